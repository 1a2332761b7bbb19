"""A one-shot check that the API (or the emulator) answers, before a long job starts (I/O edge)."""

from __future__ import annotations

from typing import Any

from clawback.errors import UpstreamError

__all__ = ["check_reachable"]


def check_reachable(client: Any) -> None:
    """Fail fast, in one line, when the API (or the emulator) cannot be reached or refuses the key.

    One ``GET /v1/models`` before a batch job or an evaluation sends anything: without it an
    unreachable base URL would surface only after the batch runner's transient-failure retries (many
    minutes). Any other answer, even an error status, lets the job go ahead.
    """
    import anthropic

    try:
        client.models.list(limit=1)
    except anthropic.APIConnectionError as exc:
        raise UpstreamError(
            f"cannot reach the API at {client.base_url}: {exc.__cause__ or exc} "
            "(is ANTHROPIC_BASE_URL right, and the emulator running?)"
        ) from exc
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        raise UpstreamError(f"the API at {client.base_url} refused the key: HTTP {exc.status_code}") from exc
    except anthropic.APIError:
        return

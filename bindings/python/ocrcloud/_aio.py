"""asyncio: a blocking call on a thread of its own, cancelled with the awaiting task."""

from __future__ import annotations

import threading
from typing import Callable, Optional, TypeVar

from ._handle import CancelToken
from .result import Result

_T = TypeVar("_T")


async def _in_thread(call: Callable[[CancelToken], _T], cancel: Optional[CancelToken]) -> _T:
    """Runs ``call(token)``, a blocking call that ``token`` cancels (``cancel``, or a token of
    its own), on a thread of its own and awaits its answer without holding the event loop. If
    the awaiting task is cancelled, it triggers the token, waits for the call to return (within
    milliseconds), closes a ``Result`` it answered and lets ``asyncio.CancelledError`` go on."""
    import asyncio  # here, not at the top: only asyncio users pay for its import

    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError("cancel must be a CancelToken")
    loop = asyncio.get_running_loop()
    token = cancel if cancel is not None else CancelToken()
    own = token if cancel is None else None  # closed here
    done = loop.create_future()

    def work():
        try:
            outcome = (call(token), None)
        except BaseException as error:  # raised in the awaiting task
            outcome = (None, error)
        try:
            loop.call_soon_threadsafe(done.set_result, outcome)
        except RuntimeError:  # the loop is closed: nobody will read the answer
            _close_answer(outcome[0])

    try:
        threading.Thread(target=work, name="ocrcloud-async", daemon=True).start()
        try:
            answer, error = await asyncio.shield(done)
        except asyncio.CancelledError:
            token.cancel()
            while not done.done():
                try:
                    await asyncio.shield(done)
                except asyncio.CancelledError:  # cancelled again: still wait for the call
                    pass
            _close_answer(done.result()[0])
            raise
    finally:
        if own is not None:
            own.close()
    if error is not None:
        raise error
    return answer


def _close_answer(answer):
    """Closes what a call answered that nobody will use (a ``Result``, or a list of them)."""
    for item in answer if isinstance(answer, list) else [answer]:
        if isinstance(item, Result):
            item.close()

"""Tag → digest over the mirrors a pin plan names, and "is this manifest there?" for
`--verify-mirror`: cached, single-flight, parallel, deadline-bound.

The admission request has a deadline below the webhook's `timeoutSeconds`; whatever is not
resolved by then is reported unresolved and the image stays as it is. Lookups still
running carry on in the background (each bounded by the client's own timeout) and fill
the cache, so the next request for the same tag is answered at once. How long each answer
is kept is the core's `CachePolicy` (a digest found: hours; "not there": seconds; a digest
that could not be checked: not at all), in one bounded LRU cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import cast

from cachetools import TLRUCache

from webhook.core.lookups import Lookup, LookupOutcome, Resolution, credential_scope
from webhook.core.presence import CachePolicy, implied_presence

LookupFunction = Callable[[str, float], Lookup]
"""(pull spec, timeout in seconds) → Lookup; must not raise for registry faults."""
ScopedLookup = Callable[[Sequence[str]], LookupFunction]
"""Pull-secret documents (dockerconfigjson text) → a lookup that uses them first."""
Key = tuple[str, str]
"""(credential scope, pull spec): an answer obtained with one pod's pull secrets is never
served to a pod without them."""
SCOPES_MAX = 64


class TagResolver:
    def __init__(
        self,
        lookup: LookupFunction,
        cache: CachePolicy | None = None,
        maxsize: int = 8192,
        workers: int = 8,
        clock: Callable[[], float] = time.monotonic,
        scoped_lookup: ScopedLookup | None = None,
        lookup_timeout: float = 1.5,
    ) -> None:
        self._lookup = lookup
        self._lookup_timeout = lookup_timeout
        self._wanted_until: dict[Key, float] = {}
        self._scoped_lookup = scoped_lookup
        self._scopes: OrderedDict[str, LookupFunction] = OrderedDict()
        self._clock = clock
        self._policy = cache or CachePolicy()
        self._answers: TLRUCache[Key, Lookup] = TLRUCache(maxsize, self._expires, timer=clock)
        self._in_flight: dict[Key, Future[Lookup]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="resolver")
        # Walkers mostly wait on lookups; more of them keeps concurrent requests from queueing.
        self._walkers = ThreadPoolExecutor(max_workers=4 * workers, thread_name_prefix="pin")
        self.lookups_made = 0

    def resolve(
        self,
        images: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        pull_secrets: Sequence[str] = (),
    ) -> list[Resolution]:
        """Resolve each (image, lookup specs) in parallel; answer within `timeout` seconds.
        `pull_secrets` (the pod's own, as dockerconfigjson text) are tried before the
        global credentials, when the resolver was given a `scoped_lookup`."""
        deadline = self._clock() + timeout
        scope = self._scope(pull_secrets)
        # What the cache answers whole is answered here: a thread hand-off per image would
        # cost more than the lookup it replaces (DESIGN: nothing slow a cached answer does
        # not need on the request path).
        # The cache's timer, entered, reads the clock once for all these reads.
        with self._lock, self._answers.timer:
            known = [self._from_cache(image, specs, scope) for image, specs in images]
        missing = [number for number, answer in enumerate(known) if answer is None]
        if not missing:
            return cast(list[Resolution], known)
        futures = {
            number: self._walkers.submit(self._first_found, *images[number], deadline, scope)
            for number in missing
        }
        wait(futures.values(), timeout=max(0.0, deadline - self._clock()))
        results = []
        for number, (image, _) in enumerate(images):
            answer, future = known[number], futures.get(number)
            if answer is None and future is not None and future.done():
                answer = future.result()
            results.append(answer or Resolution(image, None, (), "registry lookup timed out"))
        return results

    def _from_cache(self, image: str, specs: Sequence[str], scope: str) -> Resolution | None:
        """Under the lock: the resolution when every spec it needs is cached; None when
        one must be asked."""
        attempts: list[Lookup] = []
        for spec in specs:
            try:  # not .get(): that asks the cache twice, and each ask reads the clock
                lookup = self._answers[(scope, spec)]
            except KeyError:
                return None
            attempts.append(lookup)
            if lookup.outcome is LookupOutcome.FOUND:
                return Resolution(image, lookup.digest, tuple(attempts))
        return Resolution(image, None, tuple(attempts), _why(attempts))

    def flush(self) -> None:
        """Forget every answer: the mirror sets changed, so the mirrors may have too."""
        with self._lock:
            self._answers.clear()

    def close(self) -> None:
        self._walkers.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _scope(self, pull_secrets: Sequence[str]) -> str:
        if not pull_secrets or self._scoped_lookup is None:
            return ""
        scope = credential_scope(pull_secrets)
        with self._lock:
            if scope in self._scopes:
                self._scopes.move_to_end(scope)
                return scope
        lookup = self._scoped_lookup(pull_secrets)  # builds a client: not under the lock
        with self._lock:
            self._scopes.setdefault(scope, lookup)
            self._scopes.move_to_end(scope)
            while len(self._scopes) > SCOPES_MAX:
                self._scopes.popitem(last=False)  # the least recently used namespace's
        return scope

    def _first_found(
        self, image: str, specs: Sequence[str], deadline: float, scope: str = ""
    ) -> Resolution:
        attempts: list[Lookup] = []
        for spec in specs:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return Resolution(image, None, tuple(attempts), "registry lookup timed out")
            future = self._single_flight((scope, spec), deadline)
            done, _ = wait([future], timeout=remaining)
            if not done:
                return Resolution(image, None, tuple(attempts), "registry lookup timed out")
            lookup = future.result()
            attempts.append(lookup)
            if lookup.outcome is LookupOutcome.FOUND:
                return Resolution(image, lookup.digest, tuple(attempts))
        return Resolution(image, None, tuple(attempts), _why(attempts))

    def _single_flight(self, key: Key, deadline: float) -> Future[Lookup]:
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None:
                done: Future[Lookup] = Future()
                done.set_result(cached)
                return done
            self._wanted_until[key] = max(deadline, self._wanted_until.get(key, deadline))
            running = self._in_flight.get(key)
            if running is not None:
                return running
            lookup = self._scopes.get(key[0], self._lookup) if key[0] else self._lookup
            future = self._pool.submit(self._fetch, key, lookup)
            self._in_flight[key] = future
            return future

    def _fetch(self, key: Key, lookup_function: LookupFunction) -> Lookup:
        """Runs the registry's own timeout, not a caller's leftover budget, so what is cached
        is the registry's answer; a lookup that waited in the queue past every caller's
        deadline is not made at all (a slow mirror must not clog the pool for others)."""
        spec = key[1]
        with self._lock:
            wanted_until = self._wanted_until.pop(key, 0.0)
        if self._clock() > wanted_until:
            with self._lock:
                self._in_flight.pop(key, None)
            return Lookup(spec, LookupOutcome.TIMEOUT, detail="not asked: no one waits any more")
        try:
            lookup = lookup_function(spec, self._lookup_timeout)
        except Exception as error:  # a client bug must not leave waiters hanging
            lookup = Lookup(spec, LookupOutcome.BAD_ANSWER, detail=type(error).__name__)
        with self._lock:
            self.lookups_made += 1
            self._in_flight.pop(key, None)
            self._remember(key, lookup)
        return lookup

    def _remember(self, key: Key, lookup: Lookup) -> None:
        """Under the lock. A tag found also tells that its digest is in that repository."""
        self._answers[key] = lookup  # an answer kept 0 s is dropped by the cache at once
        implied = implied_presence(lookup)
        if implied is not None:
            self._answers[(key[0], implied.pull_spec)] = implied

    def _expires(self, _key: Key, lookup: Lookup, now: float) -> float:
        return now + self._policy.seconds(lookup)


def _why(attempts: Sequence[Lookup]) -> str:
    if not attempts:
        return "no mirror to ask"
    outcomes = {lookup.outcome for lookup in attempts}
    if outcomes == {LookupOutcome.NOT_FOUND}:
        return "tag not found in the mirrors"
    last = attempts[-1]
    return f"{last.outcome.value} at {last.pull_spec.split('/', 1)[0]}"

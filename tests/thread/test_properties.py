"""Properties of the in-memory threader: with header evidence only, the threads are exactly the
connected components of "is or references", whatever order the mail arrives in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.thread.evidence import Threader
from tests.thread.mail import T0, mid, msg

# A message is (name, referenced names); names are small ints so references collide often.
Mail = list[tuple[int, list[int]]]
mail_lists = st.lists(st.tuples(st.integers(0, 40), st.lists(st.integers(0, 40), max_size=4)),
                      max_size=40, unique_by=lambda m: m[0])


def components(mail: Mail) -> list[set[str]]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for name, refs in mail:
        for ref in refs:
            parent[find(ref)] = find(name)
        find(name)
    groups: dict[int, set[str]] = {}
    for name, _ in mail:
        groups.setdefault(find(name), set()).add(mid(f"m{name}"))
    return sorted(groups.values(), key=sorted)


def thread(mail: Mail) -> list[set[str]]:
    threader = Threader()
    for name, refs in mail:
        threader.add(msg(f"m{name}", refs=" ".join(f"m{r}" for r in refs),
                         subject=f"Re: s{name}"), now=T0)
    return sorted((set(g) for g in threader.groups().values()), key=sorted)


@settings(max_examples=300, deadline=None)
@given(mail_lists, st.randoms(use_true_random=False))
def test_threads_are_reference_components_in_any_order(mail: Mail, rng: object) -> None:
    shuffled = list(mail)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert thread(shuffled) == components(mail)


@settings(max_examples=100, deadline=None)
@given(mail_lists)
def test_surviving_thread_is_the_oldest_of_those_merged(mail: Mail) -> None:
    threader = Threader()
    for name, refs in mail:
        got = threader.add(msg(f"m{name}", refs=" ".join(f"m{r}" for r in refs)), now=T0)
        assert all(got.thread_id < absorbed for absorbed in got.merged)
        assert threader.thread_of(mid(f"m{name}")) == got.thread_id

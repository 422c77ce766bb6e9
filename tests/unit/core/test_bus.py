"""Unit tests of the compiled MessageBus (zq_core.bus): publish/subscribe, cache, re-entrancy,
request/response, commands, error policies and counters. Async requests: test_bus_async.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.unit.core.topic_reference import (
    ReferenceSubscription,
    reference_dispatch_order,
    reference_matches,
)
from zq_core.bus import (
    Gate,
    MessageBus,
    Request,
    Response,
    Subscription,
    UnknownEndpointError,
    matches,
)

TOPIC = "data.trades.BINANCE.BTCUSDT"


class Recorder:
    """Handlers that record (name, message) in one shared log, in call order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, object]] = []

    def handler(self, name: str) -> Callable[[object], None]:
        def handle(msg: object) -> None:
            self.log.append((name, msg))

        handle.__qualname__ = f"handler_{name}"
        return handle

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


@pytest.fixture
def bus() -> MessageBus:
    return MessageBus(name="test")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


# --- matching ---------------------------------------------------------------------------------

topics_over_small_alphabet = st.text(alphabet="ab.", min_size=0, max_size=8)
patterns_over_small_alphabet = st.text(alphabet="ab.*?", min_size=0, max_size=8)


@settings(max_examples=2000)
@given(pattern=patterns_over_small_alphabet, topic=topics_over_small_alphabet)
def test_matches_agrees_with_the_reference_matcher(pattern: str, topic: str) -> None:
    assert matches(pattern, topic) == reference_matches(pattern, topic)


@given(
    pattern=st.text(alphabet="ab.*?é中", max_size=10),
    topic=st.text(alphabet="ab.é中", max_size=10),
)
def test_matches_agrees_with_the_reference_matcher_on_non_ascii_text(
    pattern: str, topic: str
) -> None:
    assert matches(pattern, topic) == reference_matches(pattern, topic)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("data.*", "data.trades.BINANCE.BTCUSDT", True),  # '*' crosses dots
        ("data.*", "data.", True),  # '*' may be empty
        ("data.*", "data", False),  # ... but the dot must be there
        ("data", "data.trades", False),  # no implicit prefix match
        ("*.BTCUSDT", "data.trades.BINANCE.BTCUSDT", True),
        ("data.*.BINANCE.*", "data.trades.BINANCE.ETHUSDT", True),
        ("data.*.BINANCE.*", "data.trades.BYBIT.ETHUSDT", False),
        ("data.trades.BINANCE.???USDT", "data.trades.BINANCE.BTCUSDT", True),
        ("data.trades.BINANCE.???USDT", "data.trades.BINANCE.BTUSDT", False),  # '?' is one char
        ("*", "anything.at.all", True),
        ("**", "x", True),
        ("a*b*c", "abbbc", True),
        ("a*b*c", "acb", False),
    ],
)
def test_matches_examples(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


@settings(max_examples=300)
@given(
    patterns=st.lists(patterns_over_small_alphabet.filter(bool), max_size=8),
    topics=st.lists(topics_over_small_alphabet.filter(bool), min_size=1, max_size=8),
)
def test_publish_reaches_exactly_the_handlers_whose_pattern_matches_the_topic(
    patterns: list[str], topics: list[str]
) -> None:
    bus = MessageBus()
    received: list[tuple[int, str]] = []
    unique_patterns = list(dict.fromkeys(patterns))

    def receiver(index: int) -> Callable[[str], None]:
        return lambda topic: received.append((index, topic))

    for index, pattern in enumerate(unique_patterns):
        bus.subscribe(pattern, receiver(index))
    for topic in topics:
        received.clear()
        bus.publish(topic, topic)
        expected = [
            (index, topic)
            for index, pattern in enumerate(unique_patterns)
            if reference_matches(pattern, topic)
        ]
        assert received == expected


class BusAgainstReferenceModel(RuleBasedStateMachine):
    """Any sequence of subscribe / unsubscribe / publish / clear_cache keeps the incrementally
    updated cache equal to a from-scratch resolution by the reference."""

    def __init__(self) -> None:
        super().__init__()
        self.bus = MessageBus()
        self.model: list[ReferenceSubscription] = []
        self.sequence = 0
        self.received: list[int] = []
        self.handlers: list[Callable[[Any], object]] = [self._make_handler(i) for i in range(4)]

    def _make_handler(self, index: int) -> Callable[[object], None]:
        return lambda msg: self.received.append(index)

    @rule(
        pattern=st.sampled_from(["a.b", "a.c", "a.*", "*.b", "?.?", "*", "b.?"]),
        handler=st.integers(0, 3),
        priority=st.integers(-2, 2),
    )
    def subscribe(self, pattern: str, handler: int, priority: int) -> None:
        function = self.handlers[handler]
        if self.bus.is_subscribed(pattern, function):
            with pytest.raises(ValueError, match="already subscribed"):
                self.bus.subscribe(pattern, function, priority)
            return
        self.bus.subscribe(pattern, function, priority)
        self.sequence += 1
        self.model.append(ReferenceSubscription(pattern, function, priority, self.sequence))

    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        if not self.model:
            return
        chosen = data.draw(st.sampled_from(self.model))
        self.bus.unsubscribe(chosen.pattern, chosen.handler)
        self.model.remove(chosen)

    @rule(topic=st.sampled_from(["a.b", "a.c", "b.b", "a.bc", "c"]))
    def publish(self, topic: str) -> None:
        self.received.clear()
        self.bus.publish(topic, None)
        expected = reference_dispatch_order(self.model, topic)
        assert self.received == [self.handlers.index(s.handler) for s in expected]

    @rule()
    def clear_cache(self) -> None:
        self.bus.clear_cache()

    @invariant()
    def cached_topics_resolve_as_the_reference_does(self) -> None:
        for topic in self.bus.topics():
            cached = [(s.pattern, s.handler, s.priority) for s in self.bus.subscribers(topic)]
            expected = [
                (s.pattern, s.handler, s.priority)
                for s in reference_dispatch_order(self.model, topic)
            ]
            assert cached == expected


TestBusAgainstReferenceModel = BusAgainstReferenceModel.TestCase
TestBusAgainstReferenceModel.settings = settings(max_examples=150, stateful_step_count=30)


# --- publish / subscribe ----------------------------------------------------------------------


def test_publish_delivers_the_message_to_an_exact_subscriber(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe(TOPIC, recorder.handler("a"))
    msg = object()

    bus.publish(TOPIC, msg)

    assert recorder.log == [("a", msg)]


def test_publish_with_no_subscribers_delivers_nothing_and_counts_the_publish(
    bus: MessageBus,
) -> None:
    bus.publish(TOPIC, 1)

    assert bus.published == 1
    assert bus.has_subscribers(TOPIC) is False


def test_wildcard_subscriber_receives_every_matching_topic(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.trades.*", recorder.handler("trades"))

    bus.publish("data.trades.BINANCE.BTCUSDT", 1)
    bus.publish("data.quotes.BINANCE.BTCUSDT", 2)
    bus.publish("data.trades.BYBIT.ETHUSDT", 3)

    assert recorder.log == [("trades", 1), ("trades", 3)]


def test_unsubscribed_handler_receives_nothing_more(bus: MessageBus, recorder: Recorder) -> None:
    handler = recorder.handler("a")
    bus.subscribe(TOPIC, handler)
    bus.publish(TOPIC, 1)

    bus.unsubscribe(TOPIC, handler)
    bus.publish(TOPIC, 2)

    assert recorder.log == [("a", 1)]
    assert bus.is_subscribed(TOPIC, handler) is False


def test_subscribing_the_same_handler_twice_to_the_same_pattern_is_an_error(
    bus: MessageBus, recorder: Recorder
) -> None:
    handler = recorder.handler("a")
    bus.subscribe(TOPIC, handler)

    with pytest.raises(ValueError, match=r"already subscribed to pattern 'data\.trades"):
        bus.subscribe(TOPIC, handler, priority=5)

    bus.publish(TOPIC, 1)
    assert recorder.log == [("a", 1)]  # still one subscription, priority unchanged
    assert [s.priority for s in bus.subscriptions()] == [0]


def test_one_handler_subscribed_with_two_matching_patterns_receives_the_message_twice(
    bus: MessageBus, recorder: Recorder
) -> None:
    handler = recorder.handler("a")
    bus.subscribe(TOPIC, handler)
    bus.subscribe("data.*", handler)

    bus.publish(TOPIC, 1)

    assert recorder.log == [("a", 1), ("a", 1)]


def test_bound_methods_of_the_same_object_are_the_same_handler(bus: MessageBus) -> None:
    class Component:
        def on_trade(self, msg: object) -> None:
            pass

    component = Component()
    bus.subscribe(TOPIC, component.on_trade)

    assert bus.is_subscribed(TOPIC, component.on_trade)  # a fresh bound method object
    assert not bus.is_subscribed(TOPIC, Component().on_trade)
    bus.unsubscribe(TOPIC, component.on_trade)
    assert bus.subscriptions() == ()


def test_unsubscribing_a_handler_that_is_not_subscribed_is_an_error(
    bus: MessageBus, recorder: Recorder
) -> None:
    handler = recorder.handler("a")
    bus.subscribe("data.*", handler)

    with pytest.raises(ValueError, match=r"not subscribed to pattern 'data\.trades\.\*'"):
        bus.unsubscribe("data.trades.*", handler)


def test_is_subscribed_compares_the_exact_pattern_not_matching_topics(
    bus: MessageBus, recorder: Recorder
) -> None:
    handler = recorder.handler("a")
    bus.subscribe("data.*", handler)

    assert bus.is_subscribed("data.*", handler)
    assert not bus.is_subscribed(TOPIC, handler)


def test_subscriptions_are_listed_in_subscription_order_and_by_pattern(
    bus: MessageBus, recorder: Recorder
) -> None:
    a, b, c = recorder.handler("a"), recorder.handler("b"), recorder.handler("c")
    bus.subscribe("data.*", a)
    bus.subscribe(TOPIC, b, priority=10)
    bus.subscribe("data.*", c)

    assert [(s.pattern, s.handler) for s in bus.subscriptions()] == [
        ("data.*", a),
        (TOPIC, b),
        ("data.*", c),
    ]
    assert [s.handler for s in bus.subscriptions("data.*")] == [a, c]
    assert bus.subscriptions("nothing.here") == ()
    first = bus.subscriptions()[0]
    assert isinstance(first, Subscription)
    assert (first.sequence, first.is_wildcard, first.active) == (1, True, True)


@pytest.mark.parametrize(
    ("pattern", "error", "message"),
    [
        ("", ValueError, "pattern must be a non-empty str"),
        (None, TypeError, "pattern must be a str, got NoneType"),
        (42, TypeError, "pattern must be a str, got int"),
        (b"data.*", TypeError, "pattern must be a str, got bytes"),
    ],
)
def test_subscribe_refuses_an_invalid_pattern_with_a_clear_error(
    bus: MessageBus, pattern: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        bus.subscribe(pattern, print)


def test_subscribe_refuses_a_handler_that_is_not_callable(bus: MessageBus) -> None:
    with pytest.raises(TypeError, match="handler must be callable, got str"):
        bus.subscribe(TOPIC, "on_trade")  # type: ignore[arg-type]


@pytest.mark.parametrize("priority", [1.5, "3", None])
def test_subscribe_refuses_a_priority_that_is_not_an_int(bus: MessageBus, priority: Any) -> None:
    with pytest.raises(TypeError, match="priority must be an int"):
        bus.subscribe(TOPIC, print, priority)


@pytest.mark.parametrize(
    ("topic", "error", "message"),
    [
        ("", ValueError, "topic must be a non-empty str"),
        (None, TypeError, "topic must be a str, got NoneType"),
        ("data.*", ValueError, r"topic 'data\.\*' contains a wildcard"),
        ("data.?", ValueError, r"topic 'data\.\?' contains a wildcard"),
    ],
)
def test_publish_refuses_an_invalid_topic_with_a_clear_error(
    bus: MessageBus, topic: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        bus.publish(topic, 1)
    assert bus.published == 0
    assert bus.topics() == ()


def test_publish_refuses_a_topic_that_is_not_a_str(bus: MessageBus) -> None:
    with pytest.raises(TypeError, match="topic"):
        bus.publish(42, 1)  # type: ignore[arg-type]


class Topic(StrEnum):
    TRADES = "data.trades.BINANCE.BTCUSDT"
    ALL_DATA = "data.*"
    SUBMIT = "exec.submit"


def test_str_enum_patterns_and_endpoints_match_the_plain_strings_they_equal(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe(Topic.TRADES, recorder.handler("exact"))  # an Enum hashes its name, not value
    bus.subscribe(Topic.ALL_DATA, recorder.handler("wild"))
    bus.register(Topic.SUBMIT, recorder.handler("submit"))

    bus.publish(TOPIC, 1)
    bus.send("exec.submit", 2)

    assert recorder.log == [("exact", 1), ("wild", 1), ("submit", 2)]
    assert type(bus.subscriptions()[0].pattern) is str
    assert bus.is_subscribed("data.*", bus.subscriptions()[1].handler)
    assert bus.is_registered(Topic.SUBMIT)


def test_publish_takes_an_exact_str_so_a_str_enum_topic_is_refused(bus: MessageBus) -> None:
    with pytest.raises(TypeError, match="topic"):
        bus.publish(Topic.TRADES, 1)
    bus.publish(Topic.TRADES.value, 1)


# --- priorities -------------------------------------------------------------------------------


def test_higher_priority_handlers_receive_the_message_first(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.*", recorder.handler("low"), priority=-5)
    bus.subscribe(TOPIC, recorder.handler("default"))
    bus.subscribe("data.trades.*", recorder.handler("high"), priority=10)
    bus.subscribe("*", recorder.handler("middle"), priority=3)

    bus.publish(TOPIC, 1)

    assert recorder.names() == ["high", "middle", "default", "low"]


def test_equal_priorities_are_delivered_in_subscription_order(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.*", recorder.handler("first"), priority=1)
    bus.subscribe(TOPIC, recorder.handler("second"), priority=1)
    bus.subscribe("*", recorder.handler("third"), priority=1)
    bus.subscribe(TOPIC, recorder.handler("fourth"), priority=1)

    bus.publish(TOPIC, 1)

    assert recorder.names() == ["first", "second", "third", "fourth"]


def test_priority_order_holds_when_subscribing_after_the_topic_is_cached(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe(TOPIC, recorder.handler("zero"))
    bus.publish(TOPIC, 0)  # cached now: later subscriptions update the cached entry
    bus.subscribe("data.*", recorder.handler("high"), priority=2)
    bus.subscribe(TOPIC, recorder.handler("zero-later"))
    bus.subscribe("*", recorder.handler("low"), priority=-1)
    bus.subscribe(TOPIC, recorder.handler("mid"), priority=1)
    recorder.log.clear()

    bus.publish(TOPIC, 1)

    assert recorder.names() == ["high", "mid", "zero", "zero-later", "low"]


def test_subscribers_lists_a_topics_handlers_in_dispatch_order(
    bus: MessageBus, recorder: Recorder
) -> None:
    low, high = recorder.handler("low"), recorder.handler("high")
    bus.subscribe("data.*", low)
    bus.subscribe(TOPIC, high, priority=1)

    assert [s.handler for s in bus.subscribers(TOPIC)] == [high, low]


# --- resolution cache -------------------------------------------------------------------------


def test_a_topic_is_resolved_once_and_then_served_from_the_cache(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.*", recorder.handler("a"))

    for _ in range(5):
        bus.publish(TOPIC, 1)

    assert bus.resolutions == 1
    assert bus.topics() == (TOPIC,)
    assert len(recorder.log) == 5


def test_a_topic_without_subscribers_is_cached_as_empty(bus: MessageBus) -> None:
    bus.subscribe("orders.*", print)

    for _ in range(3):
        bus.publish(TOPIC, 1)

    assert bus.resolutions == 1
    assert bus.topics() == (TOPIC,)
    assert bus.subscribers(TOPIC) == ()
    assert bus.resolutions == 1


def test_subscribing_a_matching_wildcard_updates_a_cached_empty_topic(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.publish(TOPIC, 1)  # cached as empty
    bus.subscribe("data.*", recorder.handler("a"))

    bus.publish(TOPIC, 2)

    assert recorder.log == [("a", 2)]
    assert bus.resolutions == 1  # updated in place, not re-resolved


def test_subscribing_an_exact_pattern_touches_only_its_own_cached_topic(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.*", recorder.handler("wild"))
    other = "data.quotes.BINANCE.BTCUSDT"
    bus.publish(TOPIC, 0)
    bus.publish(other, 0)
    other_entry = bus.subscribers(other)

    bus.subscribe(TOPIC, recorder.handler("exact"))

    assert bus.subscribers(other) is other_entry  # the very same cached tuple
    assert [s.pattern for s in bus.subscribers(TOPIC)] == ["data.*", TOPIC]
    assert bus.resolutions == 2


def test_subscribing_a_wildcard_re_matches_only_the_cached_topics_it_matches(
    bus: MessageBus, recorder: Recorder
) -> None:
    quotes = "data.quotes.BINANCE.BTCUSDT"
    bus.publish(TOPIC, 0)
    bus.publish(quotes, 0)
    quotes_entry = bus.subscribers(quotes)

    bus.subscribe("data.trades.*", recorder.handler("trades"))

    assert bus.subscribers(quotes) is quotes_entry
    assert len(bus.subscribers(TOPIC)) == 1
    assert bus.resolutions == 2


def test_unsubscribing_updates_the_cached_topics(bus: MessageBus, recorder: Recorder) -> None:
    exact, wild = recorder.handler("exact"), recorder.handler("wild")
    bus.subscribe(TOPIC, exact)
    bus.subscribe("data.*", wild)
    bus.publish(TOPIC, 0)

    bus.unsubscribe("data.*", wild)
    assert [s.handler for s in bus.subscribers(TOPIC)] == [exact]
    bus.unsubscribe(TOPIC, exact)
    assert bus.subscribers(TOPIC) == ()

    assert bus.resolutions == 1
    assert bus.has_subscribers(TOPIC) is False


def test_clear_cache_drops_the_resolutions_but_keeps_the_subscriptions(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe("data.*", recorder.handler("a"))
    bus.publish(TOPIC, 1)

    bus.clear_cache()
    assert bus.topics() == ()
    bus.publish(TOPIC, 2)

    assert bus.resolutions == 2
    assert recorder.log == [("a", 1), ("a", 2)]


def test_has_subscribers_resolves_and_caches_the_topic(bus: MessageBus) -> None:
    bus.subscribe("data.*.BINANCE.*", print)

    assert bus.has_subscribers(TOPIC) is True
    assert bus.has_subscribers("data.trades.BYBIT.BTCUSDT") is False
    assert bus.topics() == (TOPIC, "data.trades.BYBIT.BTCUSDT")  # sorted
    assert bus.resolutions == 2


# --- re-entrancy ------------------------------------------------------------------------------


def test_a_subscriber_added_during_a_dispatch_first_receives_the_next_publish(
    bus: MessageBus, recorder: Recorder
) -> None:
    late = recorder.handler("late")

    def subscribe_late(msg: object) -> None:
        recorder.log.append(("first", msg))
        if not bus.is_subscribed(TOPIC, late):
            bus.subscribe(TOPIC, late, priority=-1)  # would sort after us
            bus.subscribe("data.*", recorder.handler("late-wild"), priority=-1)

    bus.subscribe(TOPIC, subscribe_late)

    bus.publish(TOPIC, 1)
    assert recorder.log == [("first", 1)]

    bus.publish(TOPIC, 2)
    assert recorder.log == [("first", 1), ("first", 2), ("late", 2), ("late-wild", 2)]


def test_a_subscriber_removed_during_a_dispatch_receives_nothing_more_not_even_this_message(
    bus: MessageBus, recorder: Recorder
) -> None:
    victim = recorder.handler("victim")
    wild_victim = recorder.handler("wild-victim")

    def remove_others(msg: object) -> None:
        recorder.log.append(("remover", msg))
        if bus.is_subscribed(TOPIC, victim):
            bus.unsubscribe(TOPIC, victim)
            bus.unsubscribe("data.*", wild_victim)

    bus.subscribe(TOPIC, remove_others, priority=1)
    bus.subscribe(TOPIC, victim)
    bus.subscribe("data.*", wild_victim)

    bus.publish(TOPIC, 1)
    bus.publish(TOPIC, 2)

    assert recorder.log == [("remover", 1), ("remover", 2)]


def test_a_handler_may_unsubscribe_itself(bus: MessageBus, recorder: Recorder) -> None:
    def once(msg: object) -> None:
        recorder.log.append(("once", msg))
        bus.unsubscribe("data.*", once)

    after = recorder.handler("after")
    bus.subscribe("data.*", once)
    bus.subscribe("data.*", after)

    bus.publish(TOPIC, 1)
    bus.publish(TOPIC, 2)

    assert recorder.log == [("once", 1), ("after", 1), ("after", 2)]
    assert [s.handler for s in bus.subscriptions()] == [after]


def test_an_unsubscribed_subscription_object_turns_inactive(
    bus: MessageBus, recorder: Recorder
) -> None:
    handler = recorder.handler("a")
    bus.subscribe(TOPIC, handler)
    (subscription,) = bus.subscriptions()

    bus.unsubscribe(TOPIC, handler)

    assert subscription.active is False


def test_a_nested_publish_from_a_handler_is_delivered_before_the_outer_dispatch_continues(
    bus: MessageBus, recorder: Recorder
) -> None:
    def forward(msg: object) -> None:
        recorder.log.append(("forward", msg))
        bus.publish("signals.BTCUSDT", f"signal from {msg}")

    bus.subscribe(TOPIC, forward, priority=1)
    bus.subscribe(TOPIC, recorder.handler("after-forward"))
    bus.subscribe("signals.*", recorder.handler("signal"))

    bus.publish(TOPIC, "trade")

    assert recorder.log == [
        ("forward", "trade"),
        ("signal", "signal from trade"),
        ("after-forward", "trade"),
    ]
    assert bus.published == 2


def test_a_handler_may_publish_on_its_own_topic(bus: MessageBus, recorder: Recorder) -> None:
    def countdown(n: int) -> None:
        recorder.log.append(("countdown", n))
        if n > 0:
            bus.publish(TOPIC, n - 1)

    bus.subscribe(TOPIC, countdown)

    bus.publish(TOPIC, 3)

    assert [msg for _, msg in recorder.log] == [3, 2, 1, 0]


def test_subscribing_a_new_topic_pattern_during_a_dispatch_leaves_that_dispatch_intact(
    bus: MessageBus, recorder: Recorder
) -> None:
    def churn(msg: object) -> None:
        recorder.log.append(("churn", msg))
        bus.publish("other.topic", msg)  # inserts a new cache entry mid-dispatch
        bus.clear_cache()  # and drops them all

    bus.subscribe(TOPIC, churn, priority=1)
    bus.subscribe(TOPIC, recorder.handler("b"))

    bus.publish(TOPIC, 1)

    assert recorder.log == [("churn", 1), ("b", 1)]


# --- endpoints, commands, requests ------------------------------------------------------------


def test_send_delivers_the_command_to_the_endpoint_handler(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.register("exec.submit", recorder.handler("exec"))
    command = object()

    bus.send("exec.submit", command)

    assert recorder.log == [("exec", command)]
    assert bus.sent == 1


def test_send_to_an_unknown_endpoint_names_it_and_suggests_close_ones(bus: MessageBus) -> None:
    bus.register("exec.submit", print)
    bus.register("risk.check", print)

    with pytest.raises(UnknownEndpointError, match=r"'exec\.submt'.*did you mean 'exec\.submit'"):
        bus.send("exec.submt", 1)
    with pytest.raises(
        UnknownEndpointError, match=r"registered endpoints: 'exec\.submit', 'risk\.check'"
    ):
        bus.send("control", 1)
    assert bus.sent == 0


def test_unknown_endpoint_error_is_a_lookup_error(bus: MessageBus) -> None:
    with pytest.raises(LookupError, match="no endpoints are registered"):
        bus.send("exec.submit", 1)


def test_registering_an_endpoint_twice_is_an_error_naming_it(bus: MessageBus) -> None:
    bus.register("exec.submit", print)

    with pytest.raises(ValueError, match=r"endpoint 'exec\.submit' is already registered"):
        bus.register("exec.submit", repr)


def test_deregister_removes_the_endpoint(bus: MessageBus) -> None:
    bus.register("exec.submit", print)
    assert bus.endpoints() == ("exec.submit",)

    bus.deregister("exec.submit")

    assert bus.is_registered("exec.submit") is False
    with pytest.raises(UnknownEndpointError, match=r"'exec\.submit'"):
        bus.deregister("exec.submit")
    bus.register("exec.submit", repr)  # may be registered again


@pytest.mark.parametrize(
    ("endpoint", "error"), [("", ValueError), (None, TypeError), (3, TypeError)]
)
def test_endpoints_must_be_non_empty_strings(
    bus: MessageBus, endpoint: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="endpoint must be a"):
        bus.register(endpoint, print)
    with pytest.raises(error, match="endpoint"):  # send/request: Cython's own check of `str`
        bus.send(endpoint, 1)
    with pytest.raises(error, match="endpoint"):
        bus.request(endpoint, 1, print)
    with pytest.raises(error, match="endpoint must be a"):
        bus.deregister(endpoint)


def test_a_request_answered_by_the_return_value_calls_back_once_before_request_returns(
    bus: MessageBus,
) -> None:
    seen: list[Request] = []
    responses: list[Response] = []

    def handle_price(request: Request) -> object:
        seen.append(request)
        return {"symbol": request.payload, "price": 101}

    bus.register("data.price", handle_price)

    correlation_id = bus.request("data.price", "BTCUSDT", responses.append)

    assert correlation_id == 1
    assert [r.correlation_id for r in seen] == [1]
    assert [(r.correlation_id, r.endpoint, r.payload) for r in responses] == [
        (1, "data.price", {"symbol": "BTCUSDT", "price": 101})
    ]
    assert seen[0].is_pending is False
    assert bus.pending_requests == 0


def test_correlation_ids_count_up_per_bus(bus: MessageBus) -> None:
    bus.register("echo", lambda request: request.payload)
    other = MessageBus()
    other.register("echo", lambda request: request.payload)

    ids = [bus.request("echo", i, print) for i in range(3)]

    assert ids == [1, 2, 3]
    assert other.request("echo", 0, print) == 1


def test_a_request_answered_later_calls_back_exactly_once(bus: MessageBus) -> None:
    held: list[Request] = []
    responses: list[Response] = []
    bus.register("venue.status", held.append)  # returns None: answers later

    correlation_id = bus.request("venue.status", "order-1", responses.append)

    assert responses == []
    assert bus.pending_requests == 1
    assert held[0].respond("FILLED") is True
    assert [(r.correlation_id, r.payload) for r in responses] == [(correlation_id, "FILLED")]
    assert bus.pending_requests == 0


def test_a_second_response_is_an_error_naming_the_correlation_id(bus: MessageBus) -> None:
    held: list[Request] = []
    responses: list[Response] = []
    bus.register("venue.status", held.append)
    bus.request("venue.status", None, print)
    bus.request("venue.status", None, responses.append)
    request = held[1]
    request.respond(1)

    with pytest.raises(RuntimeError, match=r"request 2 to endpoint 'venue\.status' has already"):
        request.respond(2)

    assert [r.payload for r in responses] == [1]
    assert bus.responses == 1


def test_a_handler_that_responds_and_also_returns_a_value_is_an_error(bus: MessageBus) -> None:
    responses: list[Response] = []

    def answer_twice(request: Request) -> object:
        request.respond("first")
        return "second"

    bus.register("twice", answer_twice)

    with pytest.raises(RuntimeError, match="request 1 to endpoint 'twice' was answered twice"):
        bus.request("twice", None, responses.append)
    assert [r.payload for r in responses] == ["first"]


def test_none_is_a_valid_response_when_given_through_respond(bus: MessageBus) -> None:
    responses: list[Response] = []

    def answer_none(request: Request) -> None:
        request.respond(None)

    bus.register("nothing", answer_none)

    bus.request("nothing", 1, responses.append)

    assert [r.payload for r in responses] == [None]


def test_a_request_to_an_unknown_endpoint_names_it(bus: MessageBus) -> None:
    bus.register("data.price", lambda request: 1)

    with pytest.raises(UnknownEndpointError, match=r"'data\.prices'.*'data\.price'"):
        bus.request("data.prices", None, print)
    assert bus.requests == 0


def test_a_request_needs_a_callable_callback(bus: MessageBus) -> None:
    bus.register("echo", lambda request: request.payload)

    with pytest.raises(TypeError, match="callback must be callable"):
        bus.request("echo", 1, None)  # type: ignore[arg-type]


def test_a_request_in_flight_survives_the_deregistration_of_its_endpoint(
    bus: MessageBus,
) -> None:
    held: list[Request] = []
    responses: list[Response] = []
    bus.register("venue.status", held.append)
    bus.request("venue.status", None, responses.append)

    bus.deregister("venue.status")
    held[0].respond("late but valid")

    assert [r.payload for r in responses] == ["late but valid"]


@pytest.mark.parametrize("cls", [Subscription, Request, Response])
def test_internal_classes_refuse_construction_from_python(cls: type) -> None:
    with pytest.raises(TypeError, match="created by MessageBus"):
        cls()


def test_a_request_not_made_by_a_bus_cannot_be_answered() -> None:
    request = Request.__new__(Request)

    with pytest.raises(TypeError, match="created by MessageBus"):
        request.respond(1)


# --- handler error policy ---------------------------------------------------------------------


class Boom(Exception):
    pass


def boom(msg: object) -> None:
    raise Boom(f"bad message {msg!r}")


def test_by_default_a_handler_exception_propagates_unchanged_with_a_note(
    bus: MessageBus, recorder: Recorder
) -> None:
    bus.subscribe(TOPIC, boom, priority=1)
    bus.subscribe(TOPIC, recorder.handler("after"))

    with pytest.raises(Boom, match="bad message 1") as caught:
        bus.publish(TOPIC, 1)

    (note,) = caught.value.__notes__
    assert "handler <function boom" in note
    assert f"topic {TOPIC!r}" in note
    assert "'test'" in note  # the bus name
    assert recorder.log == []  # fail fast: later subscribers are not called
    assert bus.errors == 0


def test_a_nested_publish_error_carries_a_note_per_level(bus: MessageBus) -> None:
    bus.subscribe("inner", boom)
    bus.subscribe("outer", lambda msg: bus.publish("inner", msg))

    with pytest.raises(Boom) as caught:
        bus.publish("outer", 1)

    notes = caught.value.__notes__
    assert len(notes) == 2
    assert "topic 'inner'" in notes[0]
    assert "topic 'outer'" in notes[1]


def test_by_default_send_and_request_errors_propagate_with_a_note_naming_the_endpoint(
    bus: MessageBus,
) -> None:
    bus.register("exec.submit", boom)

    with pytest.raises(Boom) as caught:
        bus.send("exec.submit", 1)
    assert "endpoint 'exec.submit'" in caught.value.__notes__[0]

    with pytest.raises(Boom) as caught:
        bus.request("exec.submit", 1, print)
    assert "endpoint 'exec.submit' (request 1)" in caught.value.__notes__[0]
    assert bus.pending_requests == 0


def test_by_default_a_response_callback_exception_propagates_with_a_note(
    bus: MessageBus,
) -> None:
    bus.register("echo", lambda request: request.payload)

    with pytest.raises(Boom) as caught:
        bus.request("echo", 1, boom)

    assert "response callback <function boom" in caught.value.__notes__[0]
    assert bus.responses == 1


def test_live_policy_counts_the_error_reports_it_and_goes_on_with_the_other_subscribers(
    recorder: Recorder,
) -> None:
    reported: list[tuple[Exception, str, object, object]] = []
    bus = MessageBus(raise_errors=False, on_error=lambda *args: reported.append(args))
    bus.subscribe(TOPIC, recorder.handler("before"), priority=2)
    bus.subscribe(TOPIC, boom, priority=1)
    bus.subscribe("data.*", boom)
    bus.subscribe("*", recorder.handler("after"), priority=-1)

    bus.publish(TOPIC, 7)

    assert recorder.log == [("before", 7), ("after", 7)]
    assert bus.errors == 2
    assert [(type(e), where, handler, msg) for e, where, handler, msg in reported] == [
        (Boom, TOPIC, boom, 7),
        (Boom, TOPIC, boom, 7),
    ]
    assert not hasattr(reported[0][0], "__notes__")  # reported as raised, no note added


def test_live_policy_logs_with_the_traceback_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MessageBus(name="live", raise_errors=False)
    bus.subscribe(TOPIC, boom)

    with caplog.at_level(logging.ERROR, logger="zq.bus"):
        bus.publish(TOPIC, 1)

    (record,) = caplog.records
    assert record.name == "zq.bus"
    assert "bus 'live'" in record.getMessage()
    assert TOPIC in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is Boom
    assert "bad message 1" in caplog.text  # the traceback and message are logged
    assert bus.errors == 1


def test_live_policy_reports_send_errors_and_counts_them() -> None:
    reported: list[tuple[Any, ...]] = []
    bus = MessageBus(raise_errors=False, on_error=lambda *args: reported.append(args))
    bus.register("exec.submit", boom)

    bus.send("exec.submit", "cmd")

    assert bus.errors == 1 and bus.sent == 1
    assert [(type(e), where, h, m) for e, where, h, m in reported] == [
        (Boom, "exec.submit", boom, "cmd")
    ]


def test_live_policy_drops_a_request_whose_handler_raised() -> None:
    reported: list[tuple[Any, ...]] = []
    responses: list[Response] = []
    bus = MessageBus(raise_errors=False, on_error=lambda *args: reported.append(args))
    held: list[Request] = []

    def fail_after_holding(request: Request) -> None:
        held.append(request)
        raise Boom("endpoint down")

    bus.register("venue.status", fail_after_holding)

    correlation_id = bus.request("venue.status", 1, responses.append)

    assert correlation_id == 1
    assert bus.pending_requests == 0 and bus.errors == 1
    assert reported[0][1] == "venue.status" and reported[0][3] is held[0]
    assert held[0].respond("too late") is False  # dropped
    assert responses == []


def test_live_policy_reports_a_response_callback_error() -> None:
    reported: list[tuple[Any, ...]] = []
    bus = MessageBus(raise_errors=False, on_error=lambda *args: reported.append(args))
    bus.register("echo", lambda request: request.payload)

    bus.request("echo", 1, boom)

    assert bus.errors == 1 and bus.responses == 1
    exc, where, handler, msg = reported[0]
    assert (type(exc), where, handler) == (Boom, "echo", boom)
    assert isinstance(msg, Response) and msg.payload == 1


@pytest.mark.parametrize("raise_errors", [True, False])
@pytest.mark.parametrize("exception", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_are_never_caught(
    raise_errors: bool, exception: type[BaseException], recorder: Recorder
) -> None:
    bus = MessageBus(raise_errors=raise_errors)

    def interrupt(msg: object) -> None:
        raise exception()

    bus.subscribe(TOPIC, interrupt, priority=1)
    bus.subscribe(TOPIC, recorder.handler("after"))
    bus.register("exec.submit", interrupt)

    with pytest.raises(exception):
        bus.publish(TOPIC, 1)
    with pytest.raises(exception):
        bus.send("exec.submit", 1)
    with pytest.raises(exception):
        bus.request("exec.submit", 1, print)
    assert recorder.log == []
    assert bus.errors == 0


def test_on_error_with_raise_errors_is_refused() -> None:
    with pytest.raises(ValueError, match="on_error is called only when raise_errors=False"):
        MessageBus(on_error=print)


def test_on_error_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_error must be callable"):
        MessageBus(raise_errors=False, on_error="log")  # type: ignore[arg-type]


def test_an_exception_raised_by_on_error_propagates() -> None:
    def failing_reporter(*args: object) -> None:
        raise RuntimeError("reporter broken")

    bus = MessageBus(raise_errors=False, on_error=failing_reporter)
    bus.subscribe(TOPIC, boom)

    with pytest.raises(RuntimeError, match="reporter broken"):
        bus.publish(TOPIC, 1)


# --- counters and identity --------------------------------------------------------------------


def test_counters_count_each_kind_of_message(bus: MessageBus) -> None:
    held: list[Request] = []
    bus.subscribe("data.*", lambda msg: None)
    bus.register("exec.submit", lambda command: None)
    bus.register("echo", lambda request: request.payload)
    bus.register("later", held.append)

    for _ in range(3):
        bus.publish(TOPIC, 1)
    bus.publish("nobody.listens", 1)
    bus.send("exec.submit", 1)
    bus.request("echo", 1, print)
    bus.request("later", 1, print)

    assert (bus.published, bus.sent, bus.requests, bus.responses, bus.errors) == (4, 1, 2, 1, 0)
    assert bus.pending_requests == 1
    held[0].respond(2)
    assert (bus.responses, bus.pending_requests) == (2, 0)


@pytest.mark.parametrize(
    "counter",
    ["published", "sent", "requests", "responses", "errors", "resolutions", "pending_requests"],
)
def test_counters_are_read_only(bus: MessageBus, counter: str) -> None:
    with pytest.raises(AttributeError):
        setattr(bus, counter, 10)


def test_the_bus_has_a_name_and_a_readable_repr() -> None:
    bus = MessageBus(name="TRADER-001", raise_errors=False)
    bus.subscribe("data.*", print)
    bus.register("exec.submit", print)

    assert bus.name == "TRADER-001"
    assert bus.raise_errors is False
    assert repr(bus) == (
        "MessageBus(name='TRADER-001', raise_errors=False, subscriptions=1, endpoints=1, "
        "cached_topics=0)"
    )


def test_the_bus_name_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        MessageBus(name="")


def test_the_bus_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        MessageBus("TRADER-001")  # type: ignore[call-arg]


# --- gates ------------------------------------------------------------------------------------


def test_a_gate_passes_messages_only_while_open() -> None:
    bus = MessageBus()
    received: list[int] = []
    gate = Gate(received.append)
    bus.subscribe("data.*", gate)
    bus.publish("data.x", 1)
    gate.open = True
    bus.publish("data.x", 2)
    gate(3)  # called directly, as a handler is
    gate.open = False
    bus.publish("data.x", 4)
    assert received == [2, 3]
    assert bus.is_subscribed("data.*", gate)
    assert gate.target == received.append
    assert Gate(received.append, open=True).open


@pytest.mark.parametrize("raise_errors", [True, False])
def test_an_error_raised_behind_a_gate_names_the_gate_and_follows_the_error_policy(
    raise_errors: bool,
) -> None:
    reported: list[tuple[Any, ...]] = []
    bus = (
        MessageBus()
        if raise_errors
        else MessageBus(raise_errors=False, on_error=lambda *args: reported.append(args))
    )

    def fail(msg: object) -> None:
        raise RuntimeError(f"bad {msg}")

    after: list[object] = []
    bus.subscribe("t", Gate(fail, open=True))
    bus.subscribe("t", after.append)
    if raise_errors:
        with pytest.raises(RuntimeError, match="bad 1") as info:
            bus.publish("t", 1)
        assert any("Gate(" in note and "'t'" in note for note in info.value.__notes__)
        assert after == []
    else:
        bus.publish("t", 1)
        assert [type(args[0]) for args in reported] == [RuntimeError]
        assert after == [1]  # the next subscriber still runs under the live policy


def test_a_gate_refuses_a_target_that_cannot_be_called() -> None:
    with pytest.raises(TypeError, match="callable"):
        Gate(42)  # type: ignore[arg-type]


def test_bump_version_moves_the_version_without_a_subscription() -> None:
    bus = MessageBus()
    before = bus.version
    bus.bump_version()
    assert bus.version == before + 1
    assert bus.subscriptions() == ()

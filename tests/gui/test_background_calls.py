"""Short background calls: each answer reaches its own callback on the main thread; a change also tells every view
what changed; changes run in the order asked for; nothing is answered or started once shut down."""

import threading

from ented_desktop.core.errors import UserError
from ented_desktop.gui.background_calls import BackgroundCalls, Changed


def test_a_query_answers_its_own_callback_on_the_main_thread(qtbot):
    calls = BackgroundCalls()
    seen = []
    calls.query(lambda: threading.current_thread(), lambda worker: seen.append((worker, threading.current_thread())))
    qtbot.waitUntil(calls.idle, timeout=5000)
    ((worker, answered_on),) = seen
    assert worker is not threading.main_thread()
    assert answered_on is threading.main_thread()


def test_a_failure_reaches_its_own_callback_as_one_sentence(qtbot):
    calls = BackgroundCalls()
    failures = []

    def fails():
        raise UserError("That album is no longer in the library.")
    calls.query(fails, lambda _: failures.append("answered"), failures.append)
    qtbot.waitUntil(calls.idle, timeout=5000)
    assert failures == ["That album is no longer in the library."]


def test_a_key_in_flight_is_not_started_twice(qtbot):
    calls = BackgroundCalls()
    release = threading.Event()
    answers = []
    assert calls.query(lambda: release.wait(5), answers.append, key=("photo", 1))
    assert calls.busy(("photo", 1))
    assert not calls.query(lambda: "again", answers.append, key=("photo", 1))
    release.set()
    qtbot.waitUntil(calls.idle, timeout=5000)
    assert answers == [True]


def test_changes_run_in_order_and_tell_the_views_after_their_own_callback(qtbot):
    calls = BackgroundCalls(max_threads=4)
    events = []
    calls.changed.connect(lambda what: events.append(("changed", what)))
    first_may_end = threading.Event()
    calls.change(lambda: first_may_end.wait(5) and "first", Changed.ALBUMS, lambda v: events.append(("done", v)))
    calls.change(lambda: "second", Changed.PEOPLE | Changed.FACES, lambda v: events.append(("done", v)))
    first_may_end.set()
    qtbot.waitUntil(calls.idle, timeout=5000)
    assert events == [("done", "first"), ("changed", Changed.ALBUMS),
                      ("done", "second"), ("changed", Changed.PEOPLE | Changed.FACES)]


def test_once_shut_down_nothing_is_answered_or_started(qtbot):
    calls = BackgroundCalls()
    release = threading.Event()
    answers, changes = [], []
    calls.changed.connect(changes.append)
    calls.query(lambda: release.wait(5), answers.append)
    threading.Timer(0.05, release.set).start()
    assert calls.shutdown()
    assert not calls.query(lambda: "late", answers.append)
    calls.announce(Changed.PHOTOS)
    qtbot.waitUntil(calls.idle, timeout=5000)
    assert answers == []
    assert changes == []

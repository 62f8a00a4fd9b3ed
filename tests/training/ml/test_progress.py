from __future__ import annotations

import json

from training.ml.progress import ProgressEvent, TrainResult, never_stop, no_progress


def test_event_round_trips_through_json() -> None:
    event = ProgressEvent(
        step=3, total_steps=10, epoch=0.3, metrics={"train/loss": 0.5}, phase="train"
    )
    assert ProgressEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_defaults_do_nothing() -> None:
    assert no_progress(ProgressEvent(step=0, total_steps=1, epoch=0.0)) is None
    assert never_stop() is False


def test_result_is_json_ready() -> None:
    result = TrainResult(
        output_dir="/o", cancelled=True, steps=2, total_steps=9, metrics={"a": 1.0}
    )
    assert json.loads(json.dumps(result.to_dict()))["cancelled"] is True

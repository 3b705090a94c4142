"""Which operations an event wakes: the operation itself, the owner of a Job, those of a Dataset."""

from __future__ import annotations

from lifecycle.operator.operations import operation_keys, targets


def test_an_operation_and_its_jobs_wake_the_operation() -> None:
    load = {"kind": "DataLoad", "metadata": {"namespace": "ml", "name": "warm"}}
    assert operation_keys(load) == [("DataLoad", "ml", "warm")]
    job = {"kind": "Job", "metadata": {"namespace": "ml", "name": "warm-load-1", "ownerReferences": [
        {"kind": "DataLoad", "name": "warm", "uid": "u"}, {"kind": "CronJob", "name": "other", "uid": "v"}]}}
    assert operation_keys(job) == [("DataLoad", "ml", "warm")]
    assert operation_keys({"kind": "Job", "metadata": {"namespace": "ml", "name": "plain"}}) == []
    assert operation_keys({"kind": "Pod", "metadata": {"namespace": "ml", "name": "p"}}) == []


def test_the_dataset_each_kind_names() -> None:
    assert targets({"kind": "DataLoad", "spec": {"dataset": {"name": "imagenet"}}}) == "imagenet"
    assert targets({"kind": "DataBackup", "spec": {"dataset": "imagenet"}}) == "imagenet"
    assert targets({"kind": "DataMigrate", "spec": {"from": {"externalStorage": {"uri": "s3://a/b"}},
                                                    "to": {"dataset": {"name": "imagenet"}}}}) == "imagenet"
    assert targets({"kind": "DataMigrate", "spec": {"from": {"dataset": {"name": "src"}},
                                                    "to": {"externalStorage": {"uri": "s3://a/b"}}}}) == "src"
    assert targets({"kind": "DataLoad", "spec": {}}) is None

"""GroupCommit: concurrent jobs written together, each submitter with its own result."""

import threading

import pytest

from fengqiao.core.group_commit import GroupCommit, GroupWriteFailed
from tests.waiting import wait_until

THREADS = 6


def _run_together(group: GroupCommit, jobs: list) -> tuple[dict, dict]:
    results, errors = {}, {}

    def submit(job):
        try:
            results[job] = group.submit(job)
        except GroupWriteFailed as error:
            errors[job] = error

    threads = [threading.Thread(target=submit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_a_job_alone_is_written_at_once():
    calls = []
    group = GroupCommit(lambda jobs: calls.append(list(jobs)) or [job * 10 for job in jobs])
    assert group.submit(4) == 40
    assert calls == [[4]]


def test_jobs_that_wait_meanwhile_are_written_in_one_call_each_with_its_own_result():
    calls = []

    def write(jobs):
        if not calls:  # the first writer holds on until every other submitter waits behind it
            wait_until(lambda: group.waiting() == THREADS - 1)
        calls.append(sorted(jobs))
        return [f"case-{job}" for job in jobs]

    group = GroupCommit(write)
    results, errors = _run_together(group, list(range(THREADS)))
    assert not errors
    assert results == {job: f"case-{job}" for job in range(THREADS)}
    assert [len(call) for call in calls] == [1, THREADS - 1]


def test_a_failed_write_fails_its_group_and_the_next_group_goes_on():
    calls = []

    def write(jobs):
        calls.append(sorted(jobs))
        if len(calls) == 1:
            wait_until(lambda: group.waiting() == THREADS - 1)
            raise RuntimeError("the database went away")
        return jobs

    group = GroupCommit(write)
    results, errors = _run_together(group, list(range(THREADS)))
    assert len(errors) == 1 and len(results) == THREADS - 1
    [error] = errors.values()
    assert isinstance(error.__cause__, RuntimeError)
    assert group.submit("later") == "later"


def test_a_write_must_answer_every_job():
    group = GroupCommit(lambda jobs: [])
    with pytest.raises(GroupWriteFailed):
        group.submit(1)


def test_a_group_holds_at_most_max_group_jobs():
    calls = []

    def write(jobs):
        if not calls:
            wait_until(lambda: group.waiting() == THREADS - 1)
        calls.append(len(jobs))
        return jobs

    group = GroupCommit(write, max_group=2)
    results, _errors = _run_together(group, list(range(THREADS)))
    assert len(results) == THREADS
    assert calls[0] == 1 and max(calls) == 2 and sum(calls) == THREADS

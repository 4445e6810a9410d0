"""structflow.dask: a job over a Dask DataFrame gives what structflow.run gives on the pandas
frame, resumes from per-partition checkpoints, and runs on a distributed LocalCluster."""

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

import structflow

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import structflow.dask as sfd  # noqa: E402

ROWS = pd.DataFrame(
    {"question": [f"question {i}" for i in range(90)], "n": range(90)},
    index=[f"r{i}" for i in range(90)])

SCHEMA = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "label": {"type": "string"},
                   "ok": {"type": "boolean"}},
    "required": ["count", "label", "ok"],
}


def _chat(sim):
    return sim.metrics()["chat_requests"]


def test_three_partitions_give_the_pandas_answers_in_order_once(sim):
    want = structflow.run(ROWS, prompt="{question} ({n})", choices=["A", "B", "C", "D"],
                          endpoint=sim.url, seed=7)
    ddf = dd.from_pandas(ROWS, npartitions=3, sort=False)
    out = sfd.run(ddf, prompt="{question} ({n})", choices=["A", "B", "C", "D"], endpoint=sim.url,
                  seed=7)
    assert out.npartitions == 3
    assert str(out.dtypes["output"]) == "string"  # meta is typed before anything ran
    got = out.compute(scheduler="threads")
    assert list(got.index) == list(ROWS.index)  # every row once, in input order
    assert list(got.columns) == ["question", "n", "output", "error"]
    assert got["n"].dtype == "int64"
    assert str(got["output"].dtype) == "string"
    assert got["error"].isna().all()
    pd.testing.assert_series_equal(got["output"], want["output"])


def test_flattened_schema_columns_are_typed_like_structflow_run(sim):
    want = structflow.run(ROWS, prompt="{question}", schema=SCHEMA, flatten=True,
                          endpoint=sim.url, seed=3)
    out = sfd.run(dd.from_pandas(ROWS, npartitions=3, sort=False), prompt="{question}",
                  schema=SCHEMA, flatten=True, endpoint=sim.url, seed=3)
    assert dict(out.dtypes.astype(str)) == dict(want.dtypes.astype(str))
    got = out.compute(scheduler="threads")
    assert dict(got.dtypes.astype(str)) == dict(want.dtypes.astype(str))
    # The simulator's schema answers are random per request, so only their shape is compared.
    assert list(got.index) == list(ROWS.index) and got["error"].isna().all()
    assert got["count"].notna().all() and set(got["label"]) and got["ok"].notna().all()


def test_a_resumed_job_sends_only_the_partitions_not_finished(tmp_path):
    with structflow.Sim(latency_ms=0) as sim:
        ddf = dd.from_pandas(ROWS, npartitions=3, sort=False)
        out = sfd.run(ddf, prompt="{question}", choices=["A", "B"], endpoint=sim.url,
                      checkpoint_dir=tmp_path / "ckpt", seed=5)
        # The job stops after two of its three partitions.
        before = _chat(sim)
        first = out.partitions[:2].compute(scheduler="threads")
        two_partitions = _chat(sim) - before
        assert len(first) == 60 and two_partitions >= 60
        # One checkpoint per partition, named by the job's settings and the partition's rows.
        spec = dict(prompt="{question}", choices=["A", "B"], seed=5)
        assert sorted(os.listdir(tmp_path / "ckpt")) == sorted(
            os.path.basename(sfd.checkpoint_path(ROWS.iloc[k * 30:(k + 1) * 30], spec,
                                                 tmp_path / "ckpt")) for k in range(2))

        # The same job again: only the third partition's rows go out (one partition's worth of
        # requests, half of what two cost), and the answers are the ones kept.
        before = _chat(sim)
        full = out.compute(scheduler="threads")
        resumed = _chat(sim) - before
        assert resumed * 2 == two_partitions
        assert list(full.index) == list(ROWS.index)
        pd.testing.assert_series_equal(full["output"].iloc[:60], first["output"])

        # Everything kept: nothing is sent.
        before = _chat(sim)
        again = out.compute(scheduler="threads")
        assert _chat(sim) == before
        pd.testing.assert_frame_equal(again, full)


def test_explode_is_refused_with_the_fix(sim):
    with pytest.raises(structflow.InputError, match="explode= changes the number of rows"):
        sfd.run(dd.from_pandas(ROWS, npartitions=2, sort=False), prompt="{question}",
                choices=["A"], explode="question", endpoint=sim.url)


@pytest.mark.parametrize("processes", [False, True])
def test_local_cluster(sim, tmp_path, processes):
    want = structflow.run(ROWS, prompt="{question}", choices=["A", "B", "C"], endpoint=sim.url,
                          seed=11)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = sfd.run(dd.from_pandas(ROWS, npartitions=4, sort=False), prompt="{question}",
                      choices=["A", "B", "C"], endpoint=sim.url, seed=11,
                      checkpoint_dir=tmp_path / "ckpt")
        got = client.compute(out).result()
        assert list(got.index) == list(ROWS.index)
        pd.testing.assert_series_equal(got["output"], want["output"])
        assert len(os.listdir(tmp_path / "ckpt")) == 4
        # One engine per worker process for this job's engine options, shared by its partitions.
        engines = client.run(_engines_for, sim.url)
        # (a worker that Dask gave no partition has none; with processes=False the workers are
        # threads of this process and all see its one engine)
        assert max(engines.values()) == 1
        # Submitted again (a new graph, no result held by the cluster): every partition resumes
        # from its checkpoint and nothing is sent.
        before = _chat(sim)
        again = client.compute(sfd.run(
            dd.from_pandas(ROWS, npartitions=4, sort=False), prompt="{question}",
            choices=["A", "B", "C"], endpoint=sim.url, seed=11,
            checkpoint_dir=tmp_path / "ckpt")).result()
        assert _chat(sim) == before
        pd.testing.assert_frame_equal(again, got)


def _engines_for(url):
    from structflow import _run
    return sum(url in key for key in _run._engines)


def test_a_partition_stopped_midway_resends_only_its_missing_rows(tmp_path):
    # 20 ms per request and 4 slots: a 30-row partition takes ~150 ms, long enough to stop it.
    with structflow.Sim(latency_ms=20, max_num_seqs=4) as sim:
        args = dict(prompt="{question}", choices=["A", "B"], endpoint=sim.url, seed=5,
                    concurrency=4)
        ckpt = tmp_path / "ckpt"
        out = sfd.run(dd.from_pandas(ROWS, npartitions=3, sort=False), checkpoint_dir=ckpt,
                      **args)
        # What one fresh partition costs: its 30 rows plus the job's own checks of the server.
        before = _chat(sim)
        out.partitions[:1].compute(scheduler="threads")
        overhead = _chat(sim) - before - 30
        assert overhead >= 0

        # Partition 1 is started alone on its checkpoint and stopped part way.
        before = _chat(sim)
        job = structflow.start(ROWS.iloc[30:60], checkpoint=sfd.checkpoint_path(
            ROWS.iloc[30:60], args, ckpt), **args)
        deadline = time.monotonic() + 30
        while job.progress["done"] < 8:
            assert time.monotonic() < deadline, job.progress
            time.sleep(0.005)
        job.stop()
        with pytest.raises(structflow.Stopped) as stopped:
            job.result()
        kept = stopped.value.report["sent_this_run"]
        assert 8 <= kept < 30

        # The whole job: partition 0 sends nothing, partition 1 its missing rows, partition 2 all.
        before = _chat(sim)
        full = out.compute(scheduler="threads")
        # (each job may check the server again: up to `overhead` more requests each; the rows
        # kept outnumber those, so a partition sent again in full would fail this)
        sent = _chat(sim) - before
        assert kept > 2 * overhead
        assert (30 - kept) + 30 <= sent <= (30 - kept) + 30 + 2 * overhead
        assert list(full.index) == list(ROWS.index) and full["error"].isna().all()


def test_the_dask_ai2d_recipe_runs_threaded_and_on_a_cluster(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python",
                          "dask_ai2d.py")
    env = {k: v for k, v in os.environ.items() if k != "ENDPOINT"}
    for workers in (None, "2"):
        if workers:
            env["WORKERS"] = workers
        out = subprocess.run([sys.executable, script, "200"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120, check=True).stdout
        assert "200 rows, 0 failed" in out
    assert len(os.listdir(tmp_path / "ckpt" / "dask_ai2d")) == 8


def test_partitions_in_another_order_resume_from_their_checkpoints(sim, tmp_path):
    # Checkpoints are named by each partition's content, not its number: the same partitions
    # in another order (or another job's split of the same rows into the same frames) find them.
    args = dict(prompt="{question}", choices=["A", "B"], endpoint=sim.url, seed=9,
                checkpoint_dir=tmp_path / "ckpt")
    ddf = dd.from_pandas(ROWS, npartitions=3, sort=False)
    first = sfd.run(ddf, **args).compute(scheduler="threads")
    assert len(os.listdir(tmp_path / "ckpt")) == 3
    before = _chat(sim)
    shuffled = dd.concat([ddf.partitions[2], ddf.partitions[0], ddf.partitions[1]])
    again = sfd.run(shuffled, **args).compute(scheduler="threads")
    assert _chat(sim) == before
    pd.testing.assert_frame_equal(again.loc[ROWS.index], first)
    # Rows moved between partitions are other content: those partitions are sent again.
    sfd.run(dd.from_pandas(ROWS, npartitions=2, sort=False), **args).compute(scheduler="threads")
    assert _chat(sim) - before >= len(ROWS)
    assert len(os.listdir(tmp_path / "ckpt")) == 5


def _write_files(folder):
    folder.mkdir()
    paths = []
    for k in range(3):
        rows = [{"question": f"file {k} question {i}", "n": i} for i in range(20 + k)]
        if k == 1:
            path = folder / "b.csv"
            pd.DataFrame(rows).to_csv(path, index=False)
        else:
            path = folder / f"{'ac'[k // 2]}.jsonl"
            pd.DataFrame(rows).to_json(path, orient="records", lines=True)
        paths.append(path)
    return paths


def test_paths_are_a_partition_each_read_on_the_worker(sim, tmp_path):
    paths = _write_files(tmp_path / "in")
    # dialect= set: the job asks the server nothing before its rows, so requests == rows sent.
    args = dict(prompt="{question}", choices=["A", "B", "C"], endpoint=sim.url, seed=4,
                dialect="vllm")
    out = sfd.run(str(tmp_path / "in" / "*"), checkpoint_dir=tmp_path / "ckpt", **args)
    assert out.npartitions == 3
    assert dict(out.dtypes.astype(str)) == {"question": "object", "n": "Int64",
                                            "output": "string", "error": "object"}
    got = out.compute(scheduler="threads")
    # Each file's rows, in file order (a.jsonl, b.csv, c.jsonl), numbered from 0 in each.
    assert list(got["question"]) == [f"file {k} question {i}" for k in range(3)
                                     for i in range(20 + k)]
    assert list(got.index) == [i for k in range(3) for i in range(20 + k)]
    assert str(got["n"].dtype) == "Int64" and str(got["output"].dtype) == "string"
    for path in paths:  # what structflow.run gives on the file
        want = structflow.run(str(path), **args)
        part = got[got["question"].str.startswith(want["question"][0][:6])]
        assert list(part["output"]) == list(want["output"])
    # A list of paths is the same job: every file resumes from its checkpoint.
    before = _chat(sim)
    again = sfd.run([str(p) for p in paths], checkpoint_dir=tmp_path / "ckpt",
                    **args).compute(scheduler="threads")
    assert _chat(sim) == before
    pd.testing.assert_frame_equal(again, got)
    # A file that changed (size, modification time) is a new partition: only it is sent.
    pd.DataFrame([{"question": "new", "n": 1}]).to_csv(paths[1], index=False)
    sfd.run([str(p) for p in paths], checkpoint_dir=tmp_path / "ckpt",
            **args).compute(scheduler="threads")
    assert _chat(sim) - before == 1


@pytest.mark.skipif(not os.environ.get("STRUCTFLOW_BIN"), reason="STRUCTFLOW_BIN not given")
def test_parquet_files_are_read_by_structflows_reader(sim, tmp_path):
    paths = _write_files(tmp_path / "in")
    parquet = tmp_path / "c.parquet"
    subprocess.run([os.environ["STRUCTFLOW_BIN"], "convert", str(paths[2]), str(parquet)],
                   check=True, capture_output=True)
    out = sfd.run([str(paths[0]), str(parquet)], prompt="{question}", choices=["A", "B"],
                  endpoint=sim.url, seed=4)
    got = out.compute(scheduler="threads")
    assert len(got) == 20 + 22 and got["error"].isna().all()
    assert list(got["n"]) == list(range(20)) + list(range(22))


def test_a_path_that_matches_nothing_is_named(sim, tmp_path):
    with pytest.raises(structflow.InputError, match="no file matches '.*nothing"):
        sfd.run(str(tmp_path / "nothing*.jsonl"), prompt="{q}", endpoint=sim.url)


def test_files_of_another_schema_are_named(sim, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"question": "q", "n": 1}\n')
    (tmp_path / "b.jsonl").write_text('{"question": "q", "other": 1}\n')
    out = sfd.run(str(tmp_path / "*.jsonl"), prompt="{question}", choices=["A"],
                  endpoint=sim.url, dialect="vllm")
    with pytest.raises(structflow.InputError, match="b.jsonl' has the columns .*give files of one"):
        out.compute(scheduler="threads")

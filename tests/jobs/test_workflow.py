"""Workflows: trigger logic, spec checks, runs of pythonshell jobs and crawlers, honest status,
resume, run properties, concurrency, and the DAG drawings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from etl.catalog import Catalog
from etl.catalog.crawls import CrawlStore
from etl.errors import ConfigError, WorkflowError, WorkflowRunningError
from etl.jobs.graph import build_graph, to_dot, to_svg, to_tree, write_graph
from etl.jobs.history import RunHistory
from etl.jobs.workflow import WorkflowEngine, get_workflow_run_properties
from etl.jobs.workflow_spec import Trigger, evaluate, find_workflow, load_workflow
from etl.jobs.workflow_store import WorkflowStore

# A pythonshell job: logs its arguments as one JSON line to --log; fails while --fail_if names an
# existing file; sleeps --sleep seconds.
STEP = """
    import json, sys, time
    from pathlib import Path
    argv = sys.argv[1:]
    args = {k[2:]: v for k, v in zip(argv[::2], argv[1::2])}
    log = Path(args["log"])
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(json.dumps(args) + "\\n")
    time.sleep(float(args.get("sleep", "0")))
    if args.get("fail_if") and Path(args["fail_if"]).exists():
        raise RuntimeError("failing while " + args["fail_if"] + " exists")
"""

# A job that adds a run property for the nodes after it.
SET_PROPERTY = """
    import sys
    from etl.jobs.args import getResolvedOptions
    from etl.jobs.workflow import put_workflow_run_properties
    args = getResolvedOptions(sys.argv, ["WORKFLOW_NAME", "WORKFLOW_RUN_ID"])
    put_workflow_run_properties(args["WORKFLOW_NAME"], args["WORKFLOW_RUN_ID"], {"batch": "b-42"})
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the working directory): jobs/, conf/jobs, conf/workflows, out/."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ETL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ETL_SPARK_MASTER", raising=False)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "conf" / "jobs").mkdir(parents=True)
    (tmp_path / "conf" / "workflows").mkdir(parents=True)
    (tmp_path / "jobs" / "step.py").write_text(textwrap.dedent(STEP))
    (tmp_path / "jobs" / "set_property.py").write_text(textwrap.dedent(SET_PROPERTY))
    return tmp_path


@pytest.fixture
def catalog(project: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    url = f"sqlite:///{project / 'catalog.db'}"
    monkeypatch.setenv("ETL_CATALOG_URL", url)  # what a job's put_workflow_run_properties opens
    cat = Catalog(url)
    yield cat
    cat.close()


def job(project: Path, name: str, script: str = "jobs/step.py", **defaults: str) -> str:
    """A pythonshell job definition logging to out/<name>.jsonl; returns its file."""
    arguments = {"log": f"out/{name}.jsonl", **defaults}
    body = {"job": {"name": name, "type": "pythonshell", "script": script, "default_arguments": arguments}}
    path = project / "conf" / "jobs" / f"{name}.yaml"
    path.write_text(json.dumps(body))
    return f"conf/jobs/{name}.yaml"


def workflow_file(project: Path, text: str, name: str = "wf") -> Path:
    path = project / "conf" / "workflows" / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def calls(project: Path, name: str) -> list[dict]:
    log = project / "out" / f"{name}.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def states(record) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {n.node_name: n.state for n in record.nodes}


def trigger(logical: str, *conditions: tuple[str, str], kind: str = "job_name") -> Trigger:
    return Trigger.model_validate(
        {
            "name": "t",
            "type": "CONDITIONAL",
            "logical": logical,
            "conditions": [{kind: node, "state": state} for node, state in conditions],
            "actions": ["x"],
        }
    )


# ----- trigger logic ------------------------------------------------------------------------------
def test_and_fires_when_every_condition_holds_and_gives_up_on_the_first_that_cannot():
    t = trigger("AND", ("a", "SUCCEEDED"), ("b", "SUCCEEDED"))
    assert evaluate(t, {}) is None
    assert evaluate(t, {"a": "SUCCEEDED"}) is None  # b still to end
    assert evaluate(t, {"a": "SUCCEEDED", "b": "SUCCEEDED"}) is True
    assert evaluate(t, {"a": "SUCCEEDED", "b": "FAILED"}) is False
    assert evaluate(t, {"a": "TIMEOUT"}) is False  # no need to wait for b


def test_any_fires_on_the_first_condition_met_and_gives_up_when_none_can_be():
    t = trigger("ANY", ("a", "SUCCEEDED"), ("b", "FAILED"))
    assert evaluate(t, {"a": "FAILED"}) is None  # b may still fail
    assert evaluate(t, {"b": "FAILED"}) is True
    assert evaluate(t, {"a": "SUCCEEDED", "b": "SUCCEEDED"}) is True
    assert evaluate(t, {"a": "FAILED", "b": "SUCCEEDED"}) is False


@pytest.mark.parametrize("wanted", ["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"])
def test_a_job_condition_matches_only_its_own_state(wanted):
    t = trigger("AND", ("a", wanted))
    for ended in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"):
        assert evaluate(t, {"a": ended}) is (ended == wanted), ended


@pytest.mark.parametrize("wanted", ["SUCCEEDED", "FAILED"])
def test_a_crawler_condition_matches_only_its_own_state(wanted):
    t = trigger("ANY", ("c", wanted), kind="crawler_name")
    assert evaluate(t, {"c": wanted}) is True
    assert evaluate(t, {"c": "FAILED" if wanted == "SUCCEEDED" else "SUCCEEDED"}) is False


def test_condition_states_are_checked_by_kind_and_glue_crawl_state_is_accepted():
    glue = Trigger.model_validate(
        {
            "Name": "t",
            "Type": "CONDITIONAL",
            "Predicate": {"Logical": "ANY", "Conditions": [{"CrawlerName": "c", "CrawlState": "FAILED"}]},
            "Actions": [{"JobName": "x"}],
        }
    )
    assert (glue.logical, glue.conditions[0].state, glue.conditions[0].node) == ("ANY", "FAILED", "c")
    with pytest.raises(ValueError, match="state of crawler c must be one of SUCCEEDED, FAILED"):
        trigger("AND", ("c", "TIMEOUT"), kind="crawler_name")
    with pytest.raises(ValueError, match="state of job a must be one of SUCCEEDED, FAILED, TIMEOUT, STOPPED"):
        trigger("AND", ("a", "RUNNING"))


# ----- spec checks ----------------------------------------------------------------------------------
BASE = """
    name: wf
    nodes:
      jobs: [{job: a}, {job: b}]
    triggers:
      - {name: start, type: ON_DEMAND, actions: [a]}
"""


def bad(project: Path, triggers: str, nodes: str = "jobs: [{job: a}, {job: b}]") -> str:
    path = workflow_file(project, f"name: wf\nnodes:\n  {nodes}\ntriggers:\n{textwrap.dedent(triggers)}")
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_unknown_nodes_in_actions_and_conditions_are_named_with_their_key(project):
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [a]}
        - {name: then, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b, zz]}
        """,
    )
    assert "triggers[1] (then).actions[1]: unknown node 'zz' (nodes: a, b)" in message
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [a]}
        - {name: then, type: CONDITIONAL, conditions: [{job_name: nope, state: FAILED}], actions: [b]}
        """,
    )
    assert "triggers[1] (then).conditions[0]: unknown node 'nope'" in message


def test_a_cycle_is_rejected_and_shown(project):
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [a]}
        - {name: ab, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b]}
        - {name: ba, type: CONDITIONAL, conditions: [{job_name: b, state: SUCCEEDED}], actions: [a]}
        """,
    )
    assert "cycle a -> b -> a (closed by trigger ba)" in message


def test_a_node_no_trigger_starts_is_rejected(project):
    message = bad(project, "- {name: start, type: ON_DEMAND, actions: [a]}\n")
    assert "nodes.jobs[1] (b): has no way to start" in message


def test_exactly_one_starting_trigger(project):
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [a]}
        - {name: nightly, type: SCHEDULED, schedule: "cron(0 6 * * ? *)", actions: [b]}
        """,
    )
    assert (
        "exactly one ON_DEMAND or SCHEDULED trigger" in message and "start (ON_DEMAND), nightly (SCHEDULED)" in message
    )


def test_contradicting_and_conditions_and_wrong_kinds_are_rejected(project):
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [a]}
        - name: never
          type: CONDITIONAL
          conditions: [{job_name: a, state: SUCCEEDED}, {job_name: a, state: FAILED}]
          actions: [b]
        """,
    )
    assert "triggers[1] (never).conditions[1]: can never fire" in message
    crawler = project / "c.yaml"
    crawler.write_text("Name: c\nDatabaseName: d\nTargets: {S3Targets: [{Path: data}]}\n")
    message = bad(
        project,
        """
        - {name: start, type: ON_DEMAND, actions: [{job_name: c}]}
        - {name: then, type: CONDITIONAL, conditions: [{crawler_name: c, state: SUCCEEDED}], actions: [a]}
        """,
        nodes="jobs: [{job: a}]\n  crawlers: [{spec: c.yaml}]",
    )
    assert "triggers[0] (start).actions[0]: c is a crawler: use crawler_name" in message


def test_keys_types_schedules_and_files_are_checked_on_load(project):
    path = workflow_file(project, BASE.replace("type: ON_DEMAND", 'type: SCHEDULED, schedule: "cron(0 6 * *)"'))
    with pytest.raises(ConfigError, match=r"wf.yaml: triggers.0: .*Glue cron needs 6 fields"):
        load_workflow(path)
    path = workflow_file(project, BASE + "    default_run_properties: {WORKFLOW_RUN_ID: x}\n")
    with pytest.raises(ConfigError, match="default_run_properties: .*WORKFLOW_RUN_ID is set by the workflow engine"):
        load_workflow(path)
    path = workflow_file(project, BASE.replace("{job: a}", "{job: conf/jobs/missing.yaml}"))
    with pytest.raises(ConfigError, match=r"nodes.jobs\[0\].job: conf/jobs/missing.yaml does not exist"):
        load_workflow(path)
    path = workflow_file(project, BASE.replace("name: wf", "name: wf\n    retries: 3"))
    with pytest.raises(ConfigError, match="retries: Extra inputs are not permitted"):
        load_workflow(path)


def test_glue_pascal_case_spec_and_lookup_by_name(project):
    job(project, "a")
    job(project, "b")
    workflow_file(
        project,
        """
        Name: glue_style
        DefaultRunProperties: {region: north}
        Nodes:
          Jobs: [{Job: conf/jobs/a.yaml}, {Name: report, Job: conf/jobs/b.yaml, Arguments: {--k: v}}]
        Triggers:
          - {Name: go, Type: ON_DEMAND, Actions: [{JobName: a}]}
          - Name: after
            Type: CONDITIONAL
            Predicate: {Logical: ANY, Conditions: [{LogicalOperator: EQUALS, JobName: a, State: FAILED}]}
            Actions: [{JobName: report, Timeout: 5}]
        """,
        name="pascal",
    )
    wf = find_workflow("glue_style")  # by its name
    assert find_workflow("pascal").name == "glue_style"  # by its file's stem
    assert set(wf.nodes) == {"a", "report"} and wf.nodes["report"].arguments == {"k": "v"}
    assert wf.spec.default_run_properties == {"region": "north"}
    with pytest.raises(ConfigError, match="not a workflow file nor a workflow in conf/workflows/.*glue_style"):
        find_workflow("nope")


# ----- running ---------------------------------------------------------------------------------------
def test_run_properties_and_workflow_ids_reach_the_jobs(project, catalog):
    job(project, "a", color="default")
    job(project, "b")
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: props
            default_run_properties: {color: blue, size: S}
            nodes:
              jobs:
                - {job: conf/jobs/a.yaml, arguments: {size: M}}
                - {job: conf/jobs/b.yaml}
            triggers:
              - {name: start, type: ON_DEMAND, actions: [a]}
              - name: then
                type: CONDITIONAL
                conditions: [{job_name: a, state: SUCCEEDED}]
                actions: [{job_name: b, arguments: {--extra: "1"}}]
            """,
        )
    )
    record = WorkflowEngine(wf, catalog).run({"color": "red"})
    assert record.state == "COMPLETED" and record.error_message is None
    (a,), (b,) = calls(project, "a"), calls(project, "b")
    # job default < run property < node argument < action argument; Glue's WORKFLOW_* pair on top
    assert (a["color"], a["size"], a["WORKFLOW_NAME"], a["WORKFLOW_RUN_ID"]) == ("red", "M", "props", record.id)
    assert (b["color"], b["size"], b["extra"], b["WORKFLOW_RUN_ID"]) == ("red", "S", "1", record.id)
    assert record.run_properties == {"color": "red", "size": "S"}
    history = RunHistory(catalog)
    a_run, b_run = history.get(record.node("a").run_id), history.get(record.node("b").run_id)
    assert a_run.workflow_run_id == b_run.workflow_run_id == record.id
    assert b_run.predecessor_runs == [{"job_name": "a", "run_id": a_run.id}]
    assert {k: v for k, v in record.statistics.items() if k.endswith("Actions") and v} == {
        "TotalActions": 2,
        "SucceededActions": 2,
    }
    assert get_workflow_run_properties("props", record.id, catalog) == {"color": "red", "size": "S"}


FAILING = """
    name: failing
    nodes:
      jobs:
        - {job: conf/jobs/a.yaml, arguments: {fail_if: broken.flag}}
        - {job: conf/jobs/b.yaml}
        - {job: conf/jobs/c.yaml}
        - {job: conf/jobs/on_fail.yaml}
    triggers:
      - {name: start, type: ON_DEMAND, actions: [a]}
      - {name: a_ok, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b]}
      - {name: b_ok, type: CONDITIONAL, conditions: [{job_name: b, state: SUCCEEDED}], actions: [c]}
      - {name: a_failed, type: CONDITIONAL, conditions: [{job_name: a, state: FAILED}], actions: [on_fail]}
"""


def test_a_failed_job_fails_the_run_and_what_depends_on_it_does_not_run(project, catalog):
    for name in ("a", "b", "c", "on_fail"):
        job(project, name)
    (project / "broken.flag").write_text("x")
    record = WorkflowEngine(load_workflow(workflow_file(project, FAILING)), catalog).run()
    assert states(record) == {"a": "FAILED", "on_fail": "SUCCEEDED", "b": "NOT_RUN", "c": "NOT_RUN"}
    assert record.state == "FAILED"  # Glue would say COMPLETED
    assert "1 node(s) did not succeed: a FAILED (RuntimeError: failing while broken.flag exists)" in (
        record.error_message or ""
    )
    assert [n.node_name for n in record.failed_nodes] == ["a"]
    s = record.statistics
    assert (s["TotalActions"], s["SucceededActions"], s["FailedActions"], s["NotRunActions"]) == (2, 1, 1, 2)
    assert calls(project, "b") == [] and len(calls(project, "on_fail")) == 1
    assert WorkflowStore(catalog).get(record.id) == record  # what status reads is what the run recorded


def test_resume_reruns_the_failed_node_and_its_dependents_and_keeps_the_rest(project, catalog):
    for name in ("s", "x", "a", "b"):
        job(project, name)
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: resumable
            default_run_properties: {batch: "7"}
            nodes:
              jobs:
                - {job: conf/jobs/s.yaml}
                - {job: conf/jobs/x.yaml}
                - {job: conf/jobs/a.yaml, arguments: {fail_if: broken.flag}}
                - {job: conf/jobs/b.yaml}
            triggers:
              - {name: start, type: ON_DEMAND, actions: [s]}
              - {name: fan, type: CONDITIONAL, conditions: [{job_name: s, state: SUCCEEDED}], actions: [x, a]}
              - {name: a_ok, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b]}
            """,
        )
    )
    engine = WorkflowEngine(wf, catalog)
    (project / "broken.flag").write_text("x")
    first = engine.run()
    assert first.state == "FAILED" and states(first)["b"] == "NOT_RUN"
    (project / "broken.flag").unlink()  # the fix
    resumed = engine.resume(first.id)
    assert resumed.id != first.id and resumed.state == "COMPLETED"
    assert states(resumed) == dict.fromkeys(("s", "x", "a", "b"), "SUCCEEDED")
    assert [len(calls(project, n)) for n in ("s", "x", "a", "b")] == [1, 1, 2, 1]
    for kept in ("s", "x"):  # the same job runs, not new ones
        assert resumed.node(kept).run_id == first.node(kept).run_id
    assert resumed.node("a").run_id != first.node("a").run_id
    assert calls(project, "b")[0]["WORKFLOW_RUN_ID"] == resumed.id and calls(project, "b")[0]["batch"] == "7"
    assert resumed.previous_run_id == first.id
    assert (resumed.statistics["ResumedNodes"], resumed.statistics["KeptNodes"]) == (["a"], ["s", "x"])
    assert WorkflowStore(catalog).get(first.id).state == "FAILED"  # history is not rewritten
    with pytest.raises(WorkflowError, match="has no failed node to resume"):
        engine.resume(resumed.id)
    with pytest.raises(WorkflowError, match="did not run in workflow run"):
        engine.resume(first.id, ["b"])


def test_any_trigger_starts_its_node_once_and_timeout_is_a_state_triggers_watch(project, catalog):
    for name in ("ok", "bad", "either", "slow", "on_timeout"):
        job(project, name)
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: branches
            nodes:
              jobs:
                - {job: conf/jobs/ok.yaml}
                - {job: conf/jobs/bad.yaml, arguments: {fail_if: conf}}
                - {job: conf/jobs/either.yaml}
                - {job: conf/jobs/slow.yaml, arguments: {sleep: "60"}, timeout: 0.02}
                - {job: conf/jobs/on_timeout.yaml}
            triggers:
              - {name: start, type: ON_DEMAND, actions: [bad, ok, slow]}
              - name: any
                type: CONDITIONAL
                logical: ANY
                conditions: [{job_name: ok, state: SUCCEEDED}, {job_name: bad, state: SUCCEEDED}]
                actions: [either]
              - {name: also, type: CONDITIONAL, conditions: [{job_name: ok, state: SUCCEEDED}], actions: [either]}
              - {name: late, type: CONDITIONAL, conditions: [{job_name: slow, state: TIMEOUT}], actions: [on_timeout]}
            """,
        )
    )
    record = WorkflowEngine(wf, catalog).run()
    assert states(record) == {
        "bad": "FAILED",
        "ok": "SUCCEEDED",
        "either": "SUCCEEDED",
        "slow": "TIMEOUT",
        "on_timeout": "SUCCEEDED",
    }
    assert len(calls(project, "either")) == 1  # two triggers fired for it; it ran once
    assert record.state == "FAILED" and record.statistics["TimeoutActions"] == 1
    assert "slow TIMEOUT" in (record.error_message or "")


def test_crawler_nodes_succeed_and_fail_and_their_states_fire_triggers(project, catalog):
    job(project, "load")
    job(project, "alert")
    data = project / "data" / "events"
    data.mkdir(parents=True)
    (data / "part-0.csv").write_text("id,name\n1,a\n2,b\n")
    (project / "good.yaml").write_text(f"Name: good\nDatabaseName: lake\nTargets: {{S3Targets: [{{Path: {data}}}]}}\n")
    (project / "bad.yaml").write_text("Name: bad\nDatabaseName: lake\nTargets: {S3Targets: [{Path: no/such/dir}]}\n")
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: crawls
            nodes:
              crawlers: [{spec: good.yaml}, {spec: bad.yaml}]
              jobs: [{job: conf/jobs/load.yaml}, {job: conf/jobs/alert.yaml}]
            triggers:
              - {name: start, type: ON_DEMAND, actions: [good, {crawler_name: bad}]}
              - name: crawled
                type: CONDITIONAL
                conditions: [{crawler_name: good, state: SUCCEEDED}]
                actions: [load]
              - name: broken
                type: CONDITIONAL
                conditions: [{crawler_name: bad, crawl_state: FAILED}]
                actions: [alert]
            """,
        )
    )
    record = WorkflowEngine(wf, catalog).run()
    assert states(record) == {"good": "SUCCEEDED", "bad": "FAILED", "load": "SUCCEEDED", "alert": "SUCCEEDED"}
    assert "path not found" in (record.node("bad").error_message or "")
    store = CrawlStore(catalog)
    assert [r["State"] for r in store.runs("good")] == ["SUCCEEDED"]
    assert [r["State"] for r in store.runs("bad")] == ["FAILED"]
    assert record.node("good").run_id == str(store.runs("good")[0]["RunId"])
    assert catalog.get_table("lake", "events")["Table"]["Name"] == "events"
    assert calls(project, "load")[0]["WORKFLOW_NAME"] == "crawls"
    assert record.state == "FAILED"


def test_a_job_that_cannot_start_is_an_error_node_and_resume_picks_up_the_fix(project, catalog):
    job(project, "after")
    wf_path = workflow_file(
        project,
        """
        name: missing
        nodes:
          jobs: [{job: later_job}, {job: conf/jobs/after.yaml}]
        triggers:
          - {name: start, type: ON_DEMAND, actions: [later_job]}
          - {name: then, type: CONDITIONAL, conditions: [{job_name: later_job, state: SUCCEEDED}], actions: [after]}
        """,
    )
    engine = WorkflowEngine(load_workflow(wf_path), catalog)
    first = engine.run()
    node = first.node("later_job")
    assert (node.state, node.run_id) == ("ERROR", None)
    assert f"{wf_path}: nodes.jobs[0].job: later_job: not a job file" in (node.error_message or "")
    assert first.state == "FAILED" and first.statistics["ErroredActions"] == 1
    job(project, "later_job")  # the fix: the job now exists in conf/jobs
    resumed = engine.resume(first.id)
    assert states(resumed) == {"later_job": "SUCCEEDED", "after": "SUCCEEDED"} and resumed.state == "COMPLETED"


def test_a_job_can_set_run_properties_for_the_nodes_after_it(project, catalog):
    job(project, "setter", script="jobs/set_property.py")
    job(project, "reader")
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: props_flow
            default_run_properties: {batch: none}
            nodes:
              jobs: [{job: conf/jobs/setter.yaml}, {job: conf/jobs/reader.yaml}]
            triggers:
              - {name: start, type: ON_DEMAND, actions: [setter]}
              - {name: then, type: CONDITIONAL, conditions: [{job_name: setter, state: SUCCEEDED}], actions: [reader]}
            """,
        )
    )
    record = WorkflowEngine(wf, catalog).run()
    assert record.state == "COMPLETED", record.error_message
    assert calls(project, "reader")[0]["batch"] == "b-42"
    assert record.run_properties == {"batch": "b-42"}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_concurrency_limit_and_a_run_whose_process_died(project, catalog):
    job(project, "a")
    wf = load_workflow(
        workflow_file(
            project,
            """
            name: single
            max_concurrent_runs: 1
            nodes: {jobs: [{job: conf/jobs/a.yaml}]}
            triggers: [{name: start, type: ON_DEMAND, actions: [a]}]
            """,
        )
    )
    store = WorkflowStore(catalog)
    going = store.start("single", {"a": "JOB"}, {})  # this process is alive: the run is going
    engine = WorkflowEngine(wf, catalog)
    with pytest.raises(WorkflowRunningError, match=f"{going.id}"):
        engine.run()
    # the runner dies: its run is marked ERROR when history is next read, and no longer blocks
    from etl.catalog.job_models import WorkflowRunRow

    with catalog._session() as s:
        row = s.get(WorkflowRunRow, going.id)
        row.statistics = {**row.statistics, "Runner": {**row.statistics["Runner"], "Pid": _dead_pid()}}
    abandoned = store.get(going.id)
    assert abandoned.state == "ERROR" and "Workflow run abandoned: process" in (abandoned.error_message or "")
    assert states(abandoned) == {"a": "NOT_RUN"}
    assert engine.run().state == "COMPLETED"


# ----- drawings ---------------------------------------------------------------------------------------
def graph_workflow(project: Path):  # type: ignore[no-untyped-def]
    for name in ("a", "b", "c", "d"):
        job(project, name)
    return load_workflow(
        workflow_file(
            project,
            """
            name: diamond
            nodes:
              jobs: [{job: conf/jobs/a.yaml}, {job: conf/jobs/b.yaml}, {job: conf/jobs/c.yaml}, {job: conf/jobs/d.yaml}]
            triggers:
              - {name: start, type: SCHEDULED, schedule: "cron(0 6 * * ? *)", actions: [a]}
              - {name: split, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b, c]}
              - name: join
                type: CONDITIONAL
                conditions: [{job_name: b, state: SUCCEEDED}, {job_name: c, state: FAILED}]
                actions: [d]
            """,
        )
    )


def test_the_tree_shows_triggers_conditions_and_joins(project):
    wf = graph_workflow(project)
    console = Console(record=True, width=120)
    console.print(to_tree(wf, {"a": "SUCCEEDED", "b": "FAILED"}))
    lines = [line.strip("│ └├─") for line in console.export_text().splitlines()]
    assert lines[:4] == [
        "workflow diamond",
        "trigger start (SCHEDULED cron(0 6 * * ? *))",
        "job a  SUCCEEDED",
        "on SUCCEEDED -> trigger split",
    ]
    assert "on SUCCEEDED -> trigger join (AND with c FAILED)" in lines
    assert "on FAILED -> trigger join (AND with b SUCCEEDED)" in lines
    assert lines.count("job d") == 1 and "job d (see above)" in lines  # the join is drawn once


def test_svg_and_dot_draw_every_vertex_and_arc_in_layers(project):
    wf = graph_workflow(project)
    graph = build_graph(wf, {"a": "SUCCEEDED"})
    assert graph.layers == [["t:start"], ["n:a"], ["t:split"], ["n:b", "n:c"], ["t:join"], ["n:d"]]
    svg = ET.fromstring(to_svg(graph))
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = svg.findall("s:g", ns)
    assert sorted(g.get("class") for g in groups) == ["job"] * 4 + ["trigger"] * 3
    x = {g.find("s:title", ns).text: float(g.find("s:rect", ns).get("x")) for g in groups if g.get("class") == "job"}
    assert x["n:a"] < x["n:b"] == x["n:c"] < x["n:d"]  # left to right by layer
    assert len(svg.findall("s:path", ns)) == len(graph.arcs) == 7
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "SUCCEEDED" in labels and "FAILED" in labels and "CONDITIONAL AND" in labels
    dot = to_dot(graph)
    assert '"n:b" -> "t:join" [label="SUCCEEDED"];' in dot and '"n:c" -> "t:join" [label="FAILED"];' in dot
    assert 'fillcolor="#c8e6c9"' in dot  # a SUCCEEDED


def test_write_graph_by_suffix(project, monkeypatch):
    wf = graph_workflow(project)
    svg = write_graph(wf, project / "out" / "g.svg")
    assert svg.read_text().startswith("<svg")
    assert write_graph(wf, project / "g.dot").read_text().startswith('digraph "diamond"')
    with pytest.raises(ConfigError, match="written as .svg, .dot or .png, not .jpg"):
        write_graph(wf, project / "g.jpg")
    monkeypatch.setattr("etl.jobs.graph.shutil.which", lambda _name: None)
    with pytest.raises(ConfigError, match="writing PNG needs Graphviz's dot on PATH"):
        write_graph(wf, project / "g.png")

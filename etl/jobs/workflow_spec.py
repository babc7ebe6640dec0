"""Glue workflow specs: jobs and crawlers as nodes, joined by triggers; loading, checks, trigger logic.

A workflow spec lives in ``conf/workflows/<name>.yaml`` (keys snake_case or Glue's PascalCase)::

    name: orders_pipeline
    default_run_properties: {input_path: data/raw/orders}    # Glue: DefaultRunProperties
    max_concurrent_runs: 1                                    # optional (Glue: MaxConcurrentRuns)
    nodes:
      crawlers:
        - {spec: conf/crawlers/demo_raw.yaml}                 # node name: the crawler's Name
      jobs:
        - {job: conf/jobs/clean_orders.yaml}                  # a job file, a jobs/x.py script or a job name
        - {name: report, job: report_job, arguments: {--format: csv}, timeout: 10}
    triggers:
      - {name: start, type: ON_DEMAND, actions: [demo_raw]}   # or SCHEDULED with schedule: cron(...)
      - name: after_crawl
        type: CONDITIONAL
        logical: AND                                          # AND | ANY (or Glue's predicate: {...})
        conditions: [{crawler_name: demo_raw, state: SUCCEEDED}]
        actions: [{job_name: clean_orders, arguments: {--mode: full}}]

Exactly one trigger starts the workflow (ON_DEMAND or SCHEDULED, as in Glue); the others are
CONDITIONAL over job states (SUCCEEDED, FAILED, TIMEOUT, STOPPED) and crawler states (SUCCEEDED,
FAILED). Loading checks node names and kinds, cycles, that some trigger starts every node, and AND
conditions that contradict each other. Relative paths start at
the current directory, as for job files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from etl.catalog import Catalog
from etl.config import GlueModel, load_yaml
from etl.crawler.spec import CrawlerSpec
from etl.errors import ConfigError
from etl.jobs.arguments import normalize_arguments, normalize_key, normalize_value
from etl.jobs.definition import JobDefinition, load_job_file, resolve_job
from etl.schedule import Schedule

CONF_DIR = Path("conf/workflows")
_NAME = re.compile(r"^[\w\-.]{1,255}$")
JOB, CRAWLER = "JOB", "CRAWLER"
JOB_CONDITION_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
CRAWLER_CONDITION_STATES = ("SUCCEEDED", "FAILED")
WORKFLOW_ARGUMENTS = ("WORKFLOW_NAME", "WORKFLOW_RUN_ID")

# node states
WAITING, RUNNING, NOT_RUN = "WAITING", "RUNNING", "NOT_RUN"
SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR = "SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"
FAILURE_STATES = (FAILED, TIMEOUT, STOPPED, ERROR)
FINAL_STATES = (SUCCEEDED, *FAILURE_STATES)
# workflow run states (RUNNING, FAILED, STOPPED and ERROR shared with nodes)
COMPLETED = "COMPLETED"


# ----- the spec -------------------------------------------------------------------------------
def check_run_properties(value: Any) -> Any:
    """Run properties as Glue argument names and string values (``WORKFLOW_*`` are the engine's).

    Raises:
        ValueError: a name is invalid or reserved, or a value is not a scalar.
    """
    if not isinstance(value, Mapping):
        return value  # pydantic reports the type
    result: dict[str, str] = {}
    for key, item in value.items():
        name = normalize_key(key)
        if name in WORKFLOW_ARGUMENTS:
            raise ValueError(f"{name} is set by the workflow engine, not by a run property")
        result[name] = normalize_value(name, item)
    return result


def _pop(data: dict[str, Any], *keys: str) -> Any:
    found = [k for k in keys if k in data]
    return data.pop(found[0]) if found else None


class JobNode(GlueModel):
    """A job in the workflow: a job file (``conf/jobs/x.yaml``), a script (``jobs/x.py``) or a job name.

    ``name`` is what triggers call the node (default: the job's name); the job runs under its own name.
    """

    name: str | None = None
    job: str
    arguments: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0)  # minutes; default the job's

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments(cls, value: Any) -> Any:
        return normalize_arguments(value) if isinstance(value, Mapping) else value


class CrawlerNode(GlueModel):
    """A crawler in the workflow, by its spec file (``conf/crawlers/x.yaml``)."""

    name: str | None = None
    spec: str


class Nodes(GlueModel):
    jobs: list[JobNode] = Field(default_factory=list)
    crawlers: list[CrawlerNode] = Field(default_factory=list)


class Condition(GlueModel):
    """One condition of a trigger's predicate (Glue: Condition)."""

    logical_operator: Literal["EQUALS"] = "EQUALS"
    job_name: str | None = None
    crawler_name: str | None = None
    state: str | None = None
    crawl_state: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        if (self.job_name is None) == (self.crawler_name is None):
            raise ValueError("a condition names exactly one of job_name or crawler_name")
        if self.job_name is not None:
            if self.crawl_state is not None:
                raise ValueError("crawl_state is for crawler conditions; a job condition uses state")
            if self.state not in JOB_CONDITION_STATES:
                raise ValueError(f"state of job {self.job_name} must be one of {', '.join(JOB_CONDITION_STATES)}")
            return self
        if self.state is not None and self.crawl_state is not None and self.state != self.crawl_state:
            raise ValueError("give one of state or crawl_state")
        wanted = self.crawl_state or self.state
        if wanted not in CRAWLER_CONDITION_STATES:
            raise ValueError(
                f"state of crawler {self.crawler_name} must be one of {', '.join(CRAWLER_CONDITION_STATES)}"
            )
        self.state, self.crawl_state = wanted, None
        return self

    @property
    def node(self) -> str:
        return self.job_name or self.crawler_name or ""

    @property
    def kind(self) -> str:
        return JOB if self.job_name is not None else CRAWLER


class Action(GlueModel):
    """A node a trigger starts (Glue: Action); a bare string in ``actions`` is a node name."""

    node: str | None = None
    job_name: str | None = None
    crawler_name: str | None = None
    arguments: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0)  # minutes

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments(cls, value: Any) -> Any:
        return normalize_arguments(value) if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _one_target(self) -> Action:
        given = [v for v in (self.node, self.job_name, self.crawler_name) if v is not None]
        if len(given) != 1:
            raise ValueError("an action names exactly one of job_name, crawler_name (or is a node name)")
        if self.crawler_name is not None and (self.arguments or self.timeout is not None):
            raise ValueError("arguments and timeout are for job actions, not crawlers")
        return self

    @property
    def target(self) -> str:
        return self.node or self.job_name or self.crawler_name or ""


class Trigger(GlueModel):
    """A trigger (Glue: Trigger): what starts the workflow, or what fires when nodes end."""

    name: str
    type: Literal["ON_DEMAND", "SCHEDULED", "CONDITIONAL"]
    description: str = ""
    schedule: str | None = None
    logical: Literal["AND", "ANY"] = "AND"
    conditions: list[Condition] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _glue_shapes(cls, data: Any) -> Any:
        """Accept Glue's ``Predicate: {Logical, Conditions}`` and node names as actions."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        predicate = _pop(data, "predicate", "Predicate")
        if predicate is not None:
            if not isinstance(predicate, dict):
                raise ValueError("predicate must be a mapping with logical and conditions")
            predicate = dict(predicate)
            for short, keys in (("logical", ("logical", "Logical")), ("conditions", ("conditions", "Conditions"))):
                value = _pop(predicate, *keys)
                if value is None:
                    continue
                if any(k in data for k in keys):
                    raise ValueError(f"{short} is given both in predicate and beside it")
                data[short] = value
            if predicate:
                raise ValueError(f"predicate has unknown keys: {', '.join(map(str, predicate))}")
        for key in ("actions", "Actions"):
            if isinstance(data.get(key), list):
                data[key] = [{"node": a} if isinstance(a, str) else a for a in data[key]]
        return data

    @model_validator(mode="after")
    def _by_type(self) -> Trigger:
        if self.type == "SCHEDULED":
            if not self.schedule:
                raise ValueError("a SCHEDULED trigger needs schedule: cron(...)")
            try:
                Schedule.parse(self.schedule)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        elif self.schedule is not None:
            raise ValueError(f"schedule is only for SCHEDULED triggers, not {self.type}")
        if self.type == "CONDITIONAL" and not self.conditions:
            raise ValueError("a CONDITIONAL trigger needs conditions")
        if self.type != "CONDITIONAL" and self.conditions:
            raise ValueError(f"conditions are only for CONDITIONAL triggers, not {self.type}")
        return self

    @property
    def starts_workflow(self) -> bool:
        return self.type != "CONDITIONAL"


class WorkflowSpec(GlueModel):
    """A workflow as in Glue's CreateWorkflow plus its nodes and triggers."""

    name: str
    description: str = ""
    default_run_properties: dict[str, str] = Field(default_factory=dict)
    max_concurrent_runs: int | None = Field(default=None, ge=1)
    nodes: Nodes
    triggers: list[Trigger] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"workflow name {name!r} is invalid (1-255 letters, digits, _ - .)")
        return name

    @field_validator("default_run_properties", mode="before")
    @classmethod
    def _properties(cls, value: Any) -> Any:
        return check_run_properties(value)


# ----- a loaded, checked workflow ------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """A node of a loaded workflow: ``ref`` is the job target or the crawler spec's path."""

    name: str
    kind: str
    ref: str
    key: str  # where the spec declares it, e.g. nodes.jobs[0]
    arguments: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class Edge:
    """``source`` ending in ``state`` counts towards ``trigger``, which starts ``target``."""

    source: str
    state: str
    trigger: str
    target: str


@dataclass
class Workflow:
    """A workflow spec with its nodes resolved and its graph checked (see :func:`load_workflow`)."""

    spec: WorkflowSpec
    source: Path
    nodes: dict[str, Node]
    crawler_specs: dict[str, CrawlerSpec]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def start_trigger(self) -> Trigger:
        return next(t for t in self.spec.triggers if t.starts_workflow)

    @property
    def conditional_triggers(self) -> list[Trigger]:
        return [t for t in self.spec.triggers if not t.starts_workflow]

    def edges(self) -> list[Edge]:
        """Every (watched node -> conditional trigger -> action node) path of length two."""
        return [
            Edge(c.node, c.state or "", t.name, a.target)
            for t in self.conditional_triggers
            for c in t.conditions
            for a in t.actions
        ]

    def downstream(self, names: Sequence[str]) -> set[str]:
        """Nodes that a trigger watching ``names`` (or their downstream) may start."""
        found: set[str] = set()
        todo = list(names)
        while todo:
            current = todo.pop()
            for edge in self.edges():
                if edge.source == current and edge.target not in found:
                    found.add(edge.target)
                    todo.append(edge.target)
        return found - set(names)

    def job_definition(self, name: str, catalog: Catalog | None = None) -> JobDefinition:
        """The job node ``name``'s definition, read now (so a fixed job file is picked up on resume).

        Raises:
            ConfigError: the job cannot be found or its definition is invalid; names this file and key.
        """
        node = self.nodes[name]
        try:
            return resolve_job(node.ref, catalog=catalog)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {node.key}.job: {exc}") from None


def _job_node_name(ref: str, source: Path, key: str) -> tuple[str, str]:
    """The default node name of a job reference, and the reference with file paths made absolute."""
    path = Path(ref).expanduser()
    if path.suffix in (".yaml", ".yml", ".py"):
        if not path.is_file():
            raise ConfigError(f"{source}: {key}.job: {ref} does not exist (relative paths start at {Path.cwd()})")
        if path.suffix == ".py":
            return path.stem, str(path.resolve())
        try:
            return load_job_file(path).name, str(path.resolve())
        except ConfigError as exc:
            raise ConfigError(f"{source}: {key}.job: {exc}") from None
    return ref, ref


def _load_nodes(spec: WorkflowSpec, source: Path) -> tuple[dict[str, Node], dict[str, CrawlerSpec]]:
    nodes: dict[str, Node] = {}
    crawlers: dict[str, CrawlerSpec] = {}

    def add(node: Node) -> None:
        if node.name in nodes:
            raise ConfigError(f"{source}: {node.key}: node name {node.name!r} is also {nodes[node.name].key}")
        nodes[node.name] = node

    for i, job in enumerate(spec.nodes.jobs):
        key = f"nodes.jobs[{i}]"
        default, ref = _job_node_name(job.job, source, key)
        add(Node(job.name or default, JOB, ref, key, dict(job.arguments), job.timeout))
    for i, crawler in enumerate(spec.nodes.crawlers):
        key = f"nodes.crawlers[{i}]"
        path = Path(crawler.spec).expanduser()
        try:
            crawler_spec = load_yaml(path, CrawlerSpec)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {key}.spec: {exc}") from None
        node = Node(crawler.name or crawler_spec.name, CRAWLER, str(path.resolve()), key)
        add(node)
        crawlers[node.name] = crawler_spec
    if not nodes:
        raise ConfigError(f"{source}: nodes: a workflow needs at least one job or crawler")
    return nodes, crawlers


def _check_references(workflow: Workflow) -> None:
    source, nodes = workflow.source, workflow.nodes
    known = ", ".join(sorted(nodes))
    seen: dict[str, int] = {}
    for i, trigger in enumerate(workflow.spec.triggers):
        where = f"{source}: triggers[{i}] ({trigger.name})"
        if trigger.name in seen:
            raise ConfigError(f"{where}: trigger name {trigger.name!r} is also triggers[{seen[trigger.name]}]")
        seen[trigger.name] = i
        for j, action in enumerate(trigger.actions):
            node = nodes.get(action.target)
            if node is None:
                raise ConfigError(f"{where}.actions[{j}]: unknown node {action.target!r} (nodes: {known})")
            if (action.job_name and node.kind != JOB) or (action.crawler_name and node.kind != CRAWLER):
                wanted = "job_name" if node.kind == JOB else "crawler_name"
                raise ConfigError(f"{where}.actions[{j}]: {action.target} is a {node.kind.lower()}: use {wanted}")
            if node.kind == CRAWLER and (action.arguments or action.timeout is not None):
                raise ConfigError(f"{where}.actions[{j}]: {action.target} is a crawler: no arguments or timeout")
        wanted_states: dict[str, str] = {}
        for j, condition in enumerate(trigger.conditions):
            node = nodes.get(condition.node)
            if node is None:
                raise ConfigError(f"{where}.conditions[{j}]: unknown node {condition.node!r} (nodes: {known})")
            if node.kind != condition.kind:
                wanted = "job_name" if node.kind == JOB else "crawler_name"
                raise ConfigError(f"{where}.conditions[{j}]: {condition.node} is a {node.kind.lower()}: use {wanted}")
            previous = wanted_states.setdefault(condition.node, condition.state or "")
            if trigger.logical == "AND" and previous != condition.state:
                raise ConfigError(
                    f"{where}.conditions[{j}]: can never fire: it needs {condition.node} to end both "
                    f"{previous} and {condition.state} (use logical: ANY)"
                )
    starters = [f"{t.name} ({t.type})" for t in workflow.spec.triggers if t.starts_workflow]
    if len(starters) != 1:
        got = ", ".join(starters) or "none"
        raise ConfigError(
            f"{source}: triggers: a workflow has exactly one ON_DEMAND or SCHEDULED trigger to start it, got {got}"
        )


def _check_cycles(workflow: Workflow) -> None:
    successors: dict[str, list[tuple[str, str]]] = {name: [] for name in workflow.nodes}
    for edge in workflow.edges():
        successors[edge.source].append((edge.target, edge.trigger))
    color = dict.fromkeys(workflow.nodes, 0)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> None:
        color[name] = 1
        path.append(name)
        for target, trigger in successors[name]:
            if color[target] == 1:
                cycle = [*path[path.index(target) :], target]
                raise ConfigError(
                    f"{workflow.source}: triggers: cycle {' -> '.join(cycle)} (closed by trigger {trigger}); "
                    "a workflow is a DAG"
                )
            if color[target] == 0:
                visit(target)
        path.pop()
        color[name] = 2

    for name in workflow.nodes:
        if color[name] == 0:
            visit(name)


def _check_startable(workflow: Workflow) -> None:
    """Every node is some trigger's action. With one starting trigger and no cycle, every node and every
    trigger is then reachable from the starting trigger (by induction along a topological order)."""
    started_by = {a.target for t in workflow.spec.triggers for a in t.actions}
    for name, node in workflow.nodes.items():
        if name not in started_by:
            raise ConfigError(
                f"{workflow.source}: {node.key} ({name}): has no way to start: no trigger lists it in its actions"
            )


def load_workflow(path: str | Path) -> Workflow:
    """Load and check a workflow spec (see the module docs).

    Raises:
        ConfigError: invalid YAML or keys, an unknown node, a node of the wrong kind, a cycle, a node no
            trigger starts, AND conditions that contradict each other, or not exactly one starting trigger;
            the message names the file and the key.
    """
    source = Path(path)
    spec = load_yaml(source, WorkflowSpec)
    nodes, crawlers = _load_nodes(spec, source)
    workflow = Workflow(spec, source, nodes, crawlers)
    _check_references(workflow)
    _check_cycles(workflow)
    _check_startable(workflow)
    return workflow


def _declared_name(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name", data.get("Name"))
    return name if isinstance(name, str) else None


def workflow_files(conf_dir: Path = CONF_DIR) -> list[Path]:
    """The workflow specs in ``conf_dir``, sorted."""
    if not conf_dir.is_dir():
        return []
    return sorted([*conf_dir.glob("*.yaml"), *conf_dir.glob("*.yml")])


def find_workflow(target: str, conf_dir: Path = CONF_DIR) -> Workflow:
    """A workflow by file path, or by name (its file's stem or its ``name:``) in ``conf_dir``.

    Raises:
        ConfigError: no such file or workflow, or the spec is invalid.
    """
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_workflow(path)
    files = workflow_files(conf_dir)
    for candidate in files:
        if candidate.stem == target or _declared_name(candidate) == target:
            return load_workflow(candidate)
    names = ", ".join(sorted({_declared_name(f) or f.stem for f in files})) or "none"
    raise ConfigError(f"{target}: not a workflow file nor a workflow in {conf_dir}/ (workflows there: {names})")


# ----- trigger logic ------------------------------------------------------------------------
def evaluate(trigger: Trigger, states: Mapping[str, str]) -> bool | None:
    """Whether a CONDITIONAL trigger fires given the nodes' final ``states``.

    Returns:
        True: it fires. False: it can no longer fire (AND: a watched node ended in another state; ANY:
        every watched node ended, none in its state). None: it waits for nodes still to end.
    """
    results = [None if c.node not in states else states[c.node] == c.state for c in trigger.conditions]
    if trigger.logical == "AND":
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    if any(r is True for r in results):
        return True
    return False if all(r is False for r in results) else None

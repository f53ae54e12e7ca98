"""dvc.yaml, params.yaml, config.py and the CLI agree with each other."""

import dataclasses
import shlex
from pathlib import Path

import click
import yaml

from pipeline.cli import cli
from pipeline.config import SECTIONS, load_params

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_stage_is_one_synth_command_with_real_options():
    for name, stage in DVC["stages"].items():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "synth", name
        assert argv[1] == name, f"stage {name} should call `synth {name}`"
        command = cli.commands[argv[1]]
        # Parsing with click raises on unknown options or bad values.
        ctx = command.make_context(argv[1], argv[2:], resilient_parsing=False)
        assert isinstance(ctx, click.Context)


def test_stage_params_exist_in_params_yaml():
    for name, stage in DVC["stages"].items():
        for key in stage.get("params", []):
            assert key in PARAMS, f"stage {name} tracks params '{key}' missing from params.yaml"


def test_params_yaml_sections_mirror_config_dataclasses():
    load_params(ROOT / "params.yaml")  # validates types and unknown keys
    for section, cls in SECTIONS.items():
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(PARAMS[section]) == fields, f"params.yaml `{section}` vs config.{cls.__name__}"


def test_each_stage_depends_on_its_own_code():
    for name, stage in DVC["stages"].items():
        assert f"pipeline/stages/{name}.py" in stage["deps"], name
        for dep in stage["deps"]:
            assert (ROOT / dep).exists() or dep.startswith(("data/", "reports/")), dep


def test_stage_outputs_feed_the_next_stage():
    stages = DVC["stages"]

    def outs(stage):
        paths = []
        for key in ("outs", "metrics", "plots"):
            for item in stage.get(key, []):
                paths.append(item if isinstance(item, str) else next(iter(item)))
        return paths

    assert "data/prepared" in outs(stages["prepare"])
    assert "data/prepared" in stages["train"]["deps"]
    assert outs(stages["train"])[0] in stages["generate"]["deps"]
    assert outs(stages["generate"])[0] in stages["evaluate"]["deps"]
    assert "reports/metrics.json" in outs(stages["evaluate"])
    assert "reports/details.json" in outs(stages["evaluate"])
    assert "reports/metrics.json" in stages["gate"]["deps"]


def _imports(path: Path, skip: frozenset[str] = frozenset()) -> set[str]:
    """Every `pipeline...` module a file imports, lazy (function-level) ones too, except inside
    the functions named in `skip`."""
    import ast

    found, todo = set(), [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import mod`
        todo.extend(ast.iter_child_nodes(node))
    return {m for m in found if m == "pipeline" or m.startswith("pipeline.")}


def _module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module (a function), not a module


def _stage_files(stage: str, family: str = "tabular") -> set[Path]:
    """Files `synth <stage>` can run: the CLI module (its top level and this stage's command,
    not the other commands' lazy imports), the package `__init__` (not its lazy
    `Synthesizer` export), the module of `family`'s verb for this stage (the CLI calls it
    through `pipeline/families.py`), and everything imported from there on, transitively."""
    from pipeline.families import FAMILIES

    other_commands = frozenset(c.callback.__name__ for n, c in cli.commands.items() if n != stage)
    skips = {ROOT / "pipeline" / "cli.py": other_commands,
             ROOT / "pipeline" / "__init__.py": frozenset({"__getattr__"})}
    todo, seen = ["pipeline.cli"], set()
    verb = FAMILIES[family].verbs.get(stage)
    if verb is not None:
        todo.append(verb.partition(":")[0])
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            path = _module_file(".".join(parts[:i]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imports(path, skips.get(path, frozenset())))
    return seen


def test_every_module_a_stage_imports_is_in_its_deps():
    """Editing any file a stage runs (through `synth <stage>`) must re-run that stage."""
    for name, stage in DVC["stages"].items():
        deps = [ROOT / d for d in stage["deps"]]
        files = _stage_files(name)
        assert ROOT / "pipeline" / "stages" / f"{name}.py" in files
        missing = sorted(str(f.relative_to(ROOT)) for f in files
                         if not any(f == d or d in f.parents for d in deps))
        assert not missing, f"stage {name}: dvc.yaml deps miss {missing}"

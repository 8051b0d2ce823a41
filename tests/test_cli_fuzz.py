"""Every command and option of the CLI, with arguments hypothesis draws: never a traceback.

The commands and their options are read from the command tree typer builds (duck-typed: typer
vendors its own click), so an option added later is drawn too: integers over the whole range
(and past int64), special floats (NaN, infinity, exponents), odd strings, repeated and
combined options. Each call must end with exit 0, or exit 1 or 2 with one ``cnisim: error:``
line on stderr (``cnisim: warning:`` lines may precede it); no traceback, no exception
escaping, and no call taking longer than a limit. Half the calls draw only well-formed values,
so that the commands also run to an answer (with every combination of options), not only fail
on their first bad value.
Calls run in-process through typer's CliRunner (a subprocess per example would cost ~0.2 s).

Network: ``catalog refresh`` always gets an ``--endpoint-url`` on 127.0.0.1 (a closed port or a
malformed variant), and the test refuses to run if refresh grows an option it does not know,
so no drawn call can reach another address. The Python entry points get the same treatment
at the end: only cnisim's own errors may escape.
"""

from __future__ import annotations

import contextlib
import math
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnisim.catalog import load_catalog
from cnisim.cli import app
from cnisim.cni import UNMODELED_VARIABLES, IpamdConfig
from cnisim.errors import CnisimError
from cnisim.limits import MaxPodsOptions, compute_limits
from cnisim.sim.contract import NodeSpec
from cnisim.sim.spec import node_spec
from cnisim.sim.warmpool import churn_timeline, steady_state
from cnisim.units import parse_cpu_millicores, parse_float, parse_int, parse_memory_mib

#: Seconds one CLI call may take (the slowest valid draws, warmpool runs, take ~1 s here).
CALL_LIMIT_S = 30

runner = CliRunner()
CATALOG = load_catalog()
SOME_TYPES = [
    *CATALOG.instance_types[:: max(len(CATALOG) // 40, 1)].tolist(),
    *("t3.large", "m5.large", "t3.small", "c6in.32xlarge", "m5.metal", "p5.48xlarge", "m4.large"),
]
ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "-", "--", "nan", "inf", "-inf", "1e309", "0x1f", "٣", "\x00", "\n"]),
)
BIG_INTEGERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.integers(min_value=-3, max_value=300),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
)
INTEGER_TEXT = st.one_of(
    BIG_INTEGERS.map(str),
    BIG_INTEGERS.map(lambda n: f" {n}"),
    st.sampled_from(["1.0", "1e3", "+5", "0005", "", "abc", "9" * 400]),
)
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=2).map(str),
    BIG_INTEGERS.map(str),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "-0", "0.075", "1", "1e-400", ""]),
)
QUANTITY_SUFFIXES = ["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "E", "x", "mi"]
QUANTITY_TEXT = st.one_of(
    st.builds(
        lambda n, suffix: f"{n}{suffix}",
        st.one_of(BIG_INTEGERS.map(abs), st.floats(0, 1e6).map(str), st.just("9" * 400)),
        st.sampled_from(QUANTITY_SUFFIXES),
    ),
    ODD_TEXT,
)
SETTING_NAMES = [
    "WARM_ENI_TARGET",
    "WARM_IP_TARGET",
    "MINIMUM_IP_TARGET",
    "WARM_PREFIX_TARGET",
    "ENABLE_PREFIX_DELEGATION",
    "MAX_ENI",
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
    "ENABLE_POD_ENI",
    "ENABLE_IPv4",
    "ENABLE_IPv6",
    "IP_COOLDOWN_PERIOD",
    "ENABLE_SUBNET_DISCOVERY",
    *sorted(UNMODELED_VARIABLES)[:3],
    "WARM_IP_TARGT",
]
SETTING_VALUES = st.one_of(
    INTEGER_TEXT, st.sampled_from(["true", "false", "TRUE", "t", "yes", ""]), ODD_TEXT
)
SETTING = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SETTING_NAMES), SETTING_VALUES),
    ODD_TEXT,
)
POD_LISTS = st.one_of(
    st.lists(BIG_INTEGERS.map(str), min_size=1, max_size=4).map(",".join),
    st.lists(st.integers(0, 60).map(str), min_size=1, max_size=4).map(",".join),
    ODD_TEXT,
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def local_urls() -> st.SearchStrategy[str]:
    """Endpoint URLs that point at 127.0.0.1 only, well-formed or not."""
    port = closed_port()
    return st.sampled_from(
        [
            f"http://127.0.0.1:{port}",
            f"https://127.0.0.1:{port}/",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://127.0.0.1:-1",
            "127.0.0.1",
            "ftp://127.0.0.1",
            "http://",
        ]
    )


def catalog_dirs(tmp: Path) -> st.SearchStrategy[str]:
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    a_file = tmp / "a-file"
    a_file.write_text("x")
    data_dir = Path(CATALOG_DIR)
    return st.sampled_from([str(empty), str(a_file), str(tmp / "missing"), str(data_dir), ""])


CATALOG_DIR = str(Path(__import__("cnisim.data").data.__file__).parent)

#: Options whose values need their own vocabulary (command, option name) -> strategy; other
#: options are drawn from their click type, so new ones are covered without an entry here.
DOMAIN: dict[tuple[str, str], st.SearchStrategy[str]] = {
    ("*", "--cni-version"): st.one_of(
        st.sampled_from(["1.23.1", "1.8.0", "1.9.0", "1.10.2", "v1.19.0-eksbuild.1"]),
        st.sampled_from(["1." + "9" * 30 + ".0", "abc", "", "1.2.3.4"]),
    ),
    ("*", "--pod-cpu"): QUANTITY_TEXT,
    ("*", "--pod-memory"): QUANTITY_TEXT,
    ("*", "--reservation-basis"): st.sampled_from(["nodeadm", "bottlerocket", "x", ""]),
    ("*", "--prefix-delegation-rule"): st.sampled_from(["calculator", "cni", "x", ""]),
    ("*", "--family"): st.one_of(st.sampled_from(["m5", "c7g,m7g", "t3", "", ","]), ODD_TEXT),
    ("*", "--arch"): st.sampled_from(["x86_64", "arm64", "mac", ""]),
    ("warmpool", "--pods"): POD_LISTS,
    ("warmpool", "--set"): SETTING,
}
#: The options ``catalog refresh`` may have: a new one must be vetted here (network safety).
REFRESH_OPTIONS = {"--output", "--region", "--profile", "--endpoint-url", "--note", "--timeout"}


def commands() -> Iterator[tuple[list[str], Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), [])


#: Well-formed values, for the calls that should run to an answer.
TAME: dict[tuple[str, str], st.SearchStrategy[str]] = {
    ("*", "--cni-version"): st.sampled_from(["1.23.1", "1.9.0", "1.10.3", "1.20.0"]),
    ("*", "--pod-cpu"): st.sampled_from(["250m", "0.5", "2", "0"]),
    ("*", "--pod-memory"): st.sampled_from(["512Mi", "1Gi", "100M", "0"]),
    ("*", "--reservation-basis"): st.sampled_from(["nodeadm", "bottlerocket"]),
    ("*", "--prefix-delegation-rule"): st.sampled_from(["calculator", "cni"]),
    ("*", "--family"): st.sampled_from(["m5", "c7g,m7g", "t3"]),
    ("*", "--arch"): st.sampled_from(["x86_64", "arm64"]),
    ("*", "--vm-overhead"): st.sampled_from(["0", "0.075"]),
    ("warmpool", "--pods"): st.lists(st.integers(0, 60).map(str), min_size=1, max_size=3).map(
        ",".join
    ),
    ("warmpool", "--set"): st.builds(
        lambda n, v: f"{n}={v}",
        st.sampled_from(SETTING_NAMES[:12]),
        st.sampled_from(["0", "1", "3", "10", "true", "false"]),
    ),
    ("warmpool", "--churn"): st.integers(1, 40).map(str),
    ("warmpool", "--max-pods"): st.integers(1, 120).map(str),
}


def value_strategy(
    command: str, param: Any, tmp: Path, *, tame: bool
) -> st.SearchStrategy[str] | None:
    """Values for one option (None: a flag, drawn as present or absent)."""
    name = param.opts[0]
    for key in ((command, name), ("*", name)):
        if tame and key in TAME:
            return TAME[key]
        if not tame and key in DOMAIN:
            return DOMAIN[key]
    kind = param.type
    if getattr(param, "is_flag", False):
        return None
    type_name = getattr(kind, "name", "")
    if getattr(kind, "choices", None):
        choices = st.sampled_from(list(kind.choices))
        return choices if tame else st.one_of(choices, ODD_TEXT)
    if type_name in ("directory", "path", "file") or param.metavar == "DIR":
        return st.just(CATALOG_DIR) if tame else catalog_dirs(tmp)
    if type_name == "integer":
        return st.integers(0, 64).map(str) if tame else INTEGER_TEXT
    if type_name == "number":
        return st.floats(0, 0.9).map(str) if tame else NUMBER_TEXT
    return st.sampled_from(["x", "note"]) if tame else ODD_TEXT


@st.composite
def argv(draw: st.DrawFn, path: list[str], command: Any, tmp: Path) -> list[str]:
    args = list(path)
    tame = draw(st.booleans(), label="well-formed values only")
    options = [p for p in command.params if p.param_type_name == "option"]
    for param in draw(st.lists(st.sampled_from(options), max_size=6)) if options else []:
        values = value_strategy(path[-1], param, tmp, tame=tame)
        args.append(param.opts[0])
        if values is not None:
            args.append(draw(values))
    for param in command.params:
        if param.param_type_name == "argument":
            n = draw(st.integers(0, 3)) if param.nargs == -1 else 1
            names = st.sampled_from(SOME_TYPES)
            if not tame:
                names = st.one_of(names, ODD_TEXT)
            args += draw(st.lists(names, min_size=n, max_size=n))
    return args


class CallTooSlow(BaseException):
    """A call ran past CALL_LIMIT_S (BaseException: CliRunner must not swallow it)."""


def alarm(signum: int, frame: Any) -> None:
    raise CallTooSlow(f"a CLI call took more than {CALL_LIMIT_S} s")


@contextlib.contextmanager
def time_limit() -> Iterator[None]:
    """Fail the example (CallTooSlow) if the body runs past CALL_LIMIT_S."""
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CALL_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_call(args: list[str]) -> None:
    with time_limit():
        result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
    assert "Traceback" not in result.stderr, (args, result.stderr)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("cnisim: error: ")]
    others = [
        line for line in lines if not line.startswith(("cnisim: error: ", "cnisim: warning: "))
    ]
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert others == [], (args, result.stderr)
    assert len(errors) == (0 if result.exit_code == 0 else 1), (args, result.stderr)
    if result.exit_code == 0:
        assert result.stdout.strip(), args  # an answer was printed


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


QUICK_COMMANDS = [(path, cmd) for path, cmd in commands() if path != ["catalog", "refresh"]]


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_command_and_option_fails_only_in_one_line(data: st.DataObject, tmp: Path) -> None:
    path, command = data.draw(st.sampled_from(QUICK_COMMANDS), label="command")
    check_call(data.draw(argv(path, command, tmp), label="argv"))


@pytest.mark.slow
@pytest.mark.usefixtures("aws_credentials")
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_refresh_reaches_only_127_0_0_1_and_fails_in_one_line(
    data: st.DataObject, tmp: Path
) -> None:
    (command,) = [cmd for path, cmd in commands() if path == ["catalog", "refresh"]]
    assert {p.opts[0] for p in command.params} == REFRESH_OPTIONS
    args = data.draw(argv(["catalog", "refresh"], command, tmp), label="argv")
    # Whatever was drawn, the endpoint is local, given last so it wins, and the deadline short.
    url = data.draw(local_urls(), label="endpoint")
    args += ["--endpoint-url", url, "--timeout", "3", "--output", str(tmp / "out")]
    check_call(args)
    assert not (tmp / "out").exists() or not any((tmp / "out").iterdir())


# --- the Python entry points ---------------------------------------------------------------------

ANY_NUMBER = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, True, None, "3"]),
)
T3_LARGE_COLUMNS = CATALOG.take(CATALOG.locate(["t3.large"])).columns


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(ANY_NUMBER, ODD_TEXT, INTEGER_TEXT, NUMBER_TEXT))
def test_parsers_raise_only_cnisim_errors(value: Any) -> None:
    for parse in (
        lambda v: parse_int(v, name="n", minimum=0),
        lambda v: parse_float(v, name="x", minimum=0, maximum=1, below_maximum=True),
        lambda v: parse_cpu_millicores(str(v)),
        lambda v: parse_memory_mib(str(v)),
    ):
        try:
            result = parse(value)
        except CnisimError as exc:
            assert "\n" not in str(exc)
        else:
            assert math.isfinite(result)


@settings(max_examples=60, deadline=None)
@given(
    max_eni=ANY_NUMBER,
    max_pods=ANY_NUMBER,
    vm_overhead=ANY_NUMBER,
    cpu=ANY_NUMBER,
)
def test_max_pods_options_raise_only_cnisim_errors(
    max_eni: Any, max_pods: Any, vm_overhead: Any, cpu: Any
) -> None:
    try:
        options = MaxPodsOptions(
            max_eni=max_eni,
            max_pods_override=max_pods,
            vm_overhead_frac=vm_overhead,
            pod_cpu_millicores=cpu,
        )
    except CnisimError:
        return
    limits = compute_limits(T3_LARGE_COLUMNS, options)
    assert limits["max_pods"][0] >= 1 and np.isfinite(limits["memory_per_pod_mib"][0])


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(ANY_NUMBER, max_size=3),
    seed=ANY_NUMBER,
    settle_s=ANY_NUMBER,
)
def test_steady_state_raises_only_cnisim_errors(counts: Any, seed: Any, settle_s: Any) -> None:
    spec = NodeSpec("t3.small", 3, 4, 11, "node", "node", True)
    try:
        with time_limit():
            rows = steady_state(spec, IpamdConfig(), counts, seed=seed, settle_s=settle_s)
    except CnisimError:
        return
    assert len(rows) == len(counts)


@settings(max_examples=40, deadline=None)
@given(n_pods=ANY_NUMBER, times=st.lists(ANY_NUMBER, min_size=4, max_size=4), seed=ANY_NUMBER)
def test_churn_timeline_raises_only_cnisim_errors(n_pods: Any, times: Any, seed: Any) -> None:
    spec = NodeSpec("t3.small", 3, 4, 11, "node", "node", True)
    arrive_s, leave_s, return_s, duration_s = times
    try:
        with time_limit():
            churn_timeline(
                spec,
                IpamdConfig(),
                n_pods,
                arrive_s=arrive_s,
                leave_s=leave_s,
                return_s=return_s,
                duration_s=duration_s,
                seed=seed,
            )
    except CnisimError:
        return


@settings(max_examples=40, deadline=None)
@given(max_pods=ANY_NUMBER, env=st.dictionaries(st.sampled_from(SETTING_NAMES), SETTING_VALUES))
def test_node_spec_and_settings_raise_only_cnisim_errors(max_pods: Any, env: Any) -> None:
    try:
        spec = node_spec(T3_LARGE_COLUMNS, IpamdConfig.from_env(env), max_pods=max_pods)
    except CnisimError:
        return
    assert spec.max_pods >= 1

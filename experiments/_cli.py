"""What every experiment script shares: flags made from a config dataclass (defaults in ``--help``),
the time budget, the params-only export, and one ``error: ...`` line with exit status 2 for every user
error. Scripts import it as a sibling module (``from _cli import ...``): ``python experiments/X.py`` puts
``experiments/`` on ``sys.path``.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
import typing

USER_ERROR = 2


class UserError(Exception):
    """A bad flag value or combination found by a script; printed as one ``error:`` line, exit 2."""


def fail(message) -> typing.NoReturn:
    """Raise a :class:`UserError` (``run`` prints it and exits with status 2)."""
    raise UserError(message)


def _multi_process() -> bool:
    try:
        from jax._src import distributed
        return distributed.global_state.client is not None
    except Exception:
        return False


def _exit_now(code):
    """Exit with ``code`` at once after a user error: interpreter teardown can otherwise print tracebacks
    from orbax's closed event loop under the ``error:`` line. A multi-host run exits normally, so that
    ``jax.distributed`` shuts down cleanly."""
    if _multi_process():
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(main, argv=None):
    """Call ``main(argv)``. Data, checkpoint and argument errors end with one ``error: ...`` line on
    stderr and exit status 2 (their messages name the file or value); anything else is a bug and keeps
    its traceback (``JAXSEQ_DEBUG=1`` keeps tracebacks for these too). Library progress (``logging`` at
    INFO) goes to stderr. In a multi-host job (``JAXSEQ_DISTRIBUTED=1`` or ``JAX_NUM_PROCESSES`` > 1, see
    docs/tpu.md) every process joins first; only process 0 prints and logs, every process saves."""
    from jaxseq.errors import DataError
    # force: importing orbax installs a root handler, which would make basicConfig a no-op. Other
    # libraries (orbax, absl) stay at WARNING; jaxseq's own progress lines are INFO.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr, force=True)
    logging.getLogger("jaxseq").setLevel(logging.INFO)
    from jaxseq import compile_cache
    compile_cache.enable()  # a second run skips XLA compilation; JAXSEQ_COMPILE_CACHE=0 switches it off
    try:
        from jaxseq.training.loop import is_main_process, maybe_initialize_distributed
        maybe_initialize_distributed()   # a no-op unless the environment describes a multi-host job
        if not is_main_process():        # one host prints and logs; every host still saves checkpoints
            logging.getLogger("jaxseq").setLevel(logging.WARNING)
            sys.stdout = open(os.devnull, "w")
        result = main(argv)
    except (UserError, DataError, FileNotFoundError, ValueError) as e:
        if os.environ.get("JAXSEQ_DEBUG"):  # a developer wants the traceback
            raise
        print(f"error: {e}", file=sys.stderr)
        _exit_now(USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    _finish(main)
    return result


def _finish(main):
    """After the script's ``main`` returned: run the exit handlers, flush, and end the process without the
    interpreter's teardown (module and XLA client destructors: about 0.5 s of a 2-3 s sampling command
    on a 2-core CPU; docs/benchmarks.md, "Cold start"). Only when ``main`` is the running script's
    (``__main__``), in a single process, with no other non-daemon thread alive; otherwise the normal
    exit follows."""
    import atexit
    import threading
    if getattr(sys.modules.get("__main__"), "main", None) is not main or _multi_process() or \
            not hasattr(atexit, "_run_exitfuncs"):
        return
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()   # logging.shutdown, coverage, ... as at a normal exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring verbatim, and every flag's default in ``--help``."""


def parser(doc, **kw) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=HelpFormatter, **kw)


def subparsers(ap):
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    orig = sub.add_parser

    def add(name, **kw):  # every sub-command shows its defaults too
        kw.setdefault("formatter_class", HelpFormatter)
        kw.setdefault("description", kw.get("help"))
        return orig(name, **kw)
    sub.add_parser = add
    return sub


def _field_type(f):
    t = f.type if not isinstance(f.type, str) else f.type.replace(" ", "")
    if isinstance(f.default, bool) or t == "bool":
        return bool
    if t in ("int", int):
        return int
    if t in ("float", float, "float|None", "Optional[float]"):
        return float
    if t in ("str", str):
        return str
    return type(f.default) if f.default is not None else str


def add_config_flags(p, cls, *, skip=(), help=None, choices=None, defaults=None):
    """One ``--field-name`` flag per field of dataclass ``cls`` (``--flag/--no-flag`` for booleans), its
    default shown in ``--help``. ``help`` and ``choices`` map field names to text and allowed values;
    ``defaults`` overrides the dataclass default shown and used."""
    help, choices, defaults = help or {}, choices or {}, defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        default = defaults.get(f.name, f.default)
        flag = "--" + f.name.replace("_", "-")
        typ = _field_type(f)
        text = help.get(f.name, f.name.replace("_", " "))
        if typ is bool:
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                           help=text)
        else:
            p.add_argument(flag, dest=f.name, type=typ, default=default, choices=choices.get(f.name),
                           help=text)
    return p


def config_from_args(cls, args, **override):
    """An instance of dataclass ``cls`` from the parsed flags of :func:`add_config_flags`."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    vals = {k: v for k, v in vars(args).items() if k in names}
    vals.update(override)
    try:
        return cls(**vals)
    except ValueError as e:  # the library names the field ("beam = 0: ..."); the user typed a flag
        m = re.match(r"(\w+) = ", str(e))
        if m and m.group(1) in names:
            fail("--" + m.group(1).replace("_", "-") + " " + str(e)[len(m.group(1)) + 3:])
        raise


def add_time_budget(p):
    p.add_argument("--time-budget", type=float, default=0.0, metavar="MIN",
                   help="stop cleanly with a checkpoint before MIN minutes of wall clock (0: no limit); "
                        "the same command again resumes")


def time_budget_s(args):
    """Seconds for ``fit(time_budget_s=...)`` from ``--time-budget`` (None: no limit)."""
    minutes = getattr(args, "time_budget", 0.0) or 0.0
    if minutes < 0:
        fail(f"--time-budget {minutes}: give minutes >= 0")
    return minutes * 60.0 if minutes else None


def add_export(sub, *, default_pick="latest", metric=None):
    """The ``export`` sub-command: a params-only copy of one step, for shipping or sampling."""
    x = sub.add_parser("export", help="params-only copy of one training step (for shipping)")
    x.add_argument("--ckpt", required=True, help="training run directory")
    x.add_argument("--out", required=True, help="destination directory (must not hold a checkpoint)")
    x.add_argument("--step", type=int, default=None, help="export exactly this step (default: --pick)")
    x.add_argument("--pick", default=default_pick, choices=["latest", "best"],
                   help="which step when --step is not given" +
                        (f" (best: lowest {metric})" if metric else ""))
    x.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type (sampling computes in float32)")
    x.set_defaults(fn=lambda a: cmd_export(a, metric))
    return x


def cmd_export(a, metric=None):
    from jaxseq.training import checkpoint
    step = checkpoint.export(a.ckpt, a.out, step=a.step, pick=a.pick, dtype=a.dtype, best_metric=metric)
    print(f"exported step {step} of {a.ckpt} to {a.out} ({a.dtype})")


def out_path(path, what="--out"):
    """A writable output file path: its folder is created now, before any work, so a bad ``--out``
    fails in a second instead of after sampling."""
    from pathlib import Path

    from jaxseq.data.files import check_output_dir
    p = Path(path)
    if p.exists() and p.is_dir():
        fail(f"{what} {p} is a directory; give a file name")
    try:
        check_output_dir(p.parent)
    except ValueError as e:
        fail(f"{what} {p}: {e}")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


# ------------------------------------------------------------------- what several scripts' commands share
def plain_warnings():
    """Warnings as one ``warning: ...`` line (no file name and source line), e.g. unknown characters."""
    import warnings
    warnings.formatwarning = lambda msg, *_, **__: f"warning: {msg}\n"


def commands(doc, argv, *adders):
    """Parse ``argv`` with one sub-command per ``add(sub)`` of ``adders`` (each sets ``fn``) and call the
    chosen command's ``fn(args)``."""
    p = parser(doc)
    sub = subparsers(p)
    for add in adders:
        add(sub)
    a = p.parse_args(argv)
    return a.fn(a)


def check_outputs(*dirs):
    """Fail now, before any work, on an output folder that cannot be written (``None``: not given)."""
    from jaxseq.data.files import check_output_dir
    for d in dirs:
        if d:
            check_output_dir(d)


def add_export_flags(p, what="the best step"):
    """``--export DIR`` (a params-only copy of ``what`` after training) and ``--export-dtype``."""
    p.add_argument("--export", metavar="DIR", help=f"after training, a params-only copy of {what}")
    p.add_argument("--export-dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type of the export (decoding computes in float32)")


def export_run(run_dir, args, pick="best"):
    """The ``--export`` of :func:`add_export_flags`: a params-only copy of ``run_dir``'s ``pick`` step."""
    from jaxseq.training import checkpoint
    step = checkpoint.export(run_dir, args.export, pick=pick, dtype=args.export_dtype)
    print(f"exported step {step} ({args.export_dtype}) to {args.export}")


def print_params(params, mcfg):
    """``model: 1.23M params, <model config>``."""
    import jax
    n = sum(a.size for a in jax.tree_util.tree_leaves(params))
    print(f"model: {n / 1e6:.2f}M params, {mcfg}")


def text_lines(texts, interactive, prompt="type a sentence per line, Ctrl-D to end"):
    """The ``texts`` given, then, when ``interactive``, every non-empty line of stdin (``prompt`` first,
    on stderr, where stdin is a terminal)."""
    yield from texts or []
    if interactive:
        if sys.stdin.isatty():
            print(prompt, file=sys.stderr)
        yield from (ln.strip() for ln in sys.stdin if ln.strip())


def _say_skipped(e):
    print(f"skipped: {e}", file=sys.stderr)


def each_output(lines, fn, interactive, skipped=_say_skipped):
    """``(i, line, fn(line))`` for each line, as soon as it is read. A ``ValueError`` of ``fn`` (input the
    model cannot take) ends a run of given texts (``run`` prints it as the error); ``interactive``, it is
    passed to ``skipped`` and the next line follows."""
    for i, text in enumerate(lines):
        try:
            out = fn(text)
        except ValueError as e:
            if not interactive:
                raise
            skipped(e)
            continue
        yield i, text, out

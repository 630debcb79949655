import pytest

from jaxseq.cli import run
from jaxseq.data import DataError


def _raise(exc):
    def main():
        raise exc
    return main


def test_user_errors_exit_2_with_one_line(capsys):
    for exc in (DataError("data file 'x.tar.gz' not found"), FileNotFoundError("no checkpoint in ck")):
        with pytest.raises(SystemExit) as e:
            run(_raise(exc))
        assert e.value.code == 2
        assert capsys.readouterr().err.strip() == f"error: {exc}"


def test_bugs_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        run(lambda: 1 / 0)
    assert run(lambda: 7) == 7

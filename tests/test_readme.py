from conftest import REPO

TEST_COMMAND = 'python3 -m venv .venv && . .venv/bin/activate && pip install -q -e ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in readme.split("\n## ", 1)[0], "the README must start with the test command"
    assert TEST_COMMAND in ci


def test_readme_documents_every_exit_code():
    from digitreader.errors import EXIT_CODE_TABLE

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for code, name, _ in EXIT_CODE_TABLE:
        assert f"| {int(code)} | `{name}` |" in readme

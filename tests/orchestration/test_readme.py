"""The README documents every configuration variable and both commands."""
from analytics_pipeline.settings import ENVIRONMENT, PROJECT_ROOT


def test_readme_lists_every_environment_variable_and_the_two_commands():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name in ENVIRONMENT if f"| `{name}` |" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
    assert "make run" in readme and "make test" in readme

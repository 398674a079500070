import pytest

from conftest import run_cli
from hushframe.toolkit.recipes import RecipeError, apply_overrides, builtin_recipes, load_recipe, parse_set


def test_builtin_recipes_hold_the_paper_settings():
    assert {"atbsn-sidd", "atbsn-dnd", "quick-cpu"} <= set(builtin_recipes())
    sidd = load_recipe("atbsn-sidd")
    assert sidd["teacher"]["iterations"] == 400_000 and sidd["distill"]["iterations"] == 100_000
    assert sidd["teacher"]["train_blind_spot"] == 9 and sidd["teacher"]["infer_blind_spot"] == 3
    assert sidd["teacher"]["crop"] == 256 and sidd["distill"]["crop"] == 128 and sidd["teacher"]["lr"] == 3e-4
    assert sidd["distill"]["teachers"] == [0, 1, 3, 5, 7, 9, 11]
    assert load_recipe("atbsn-dnd")["distill"]["teachers"] == [0, 1, 3, 5, 7, 9]
    assert load_recipe("quick-cpu")["teacher"]["width"] <= 16


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text("[teacher]\nwidht = 16\n")
    with pytest.raises(RecipeError, match="unknown key 'teacher.widht'.*allowed: .*width"):
        load_recipe(p)
    p.write_text("[teachr]\nwidth = 16\n")
    with pytest.raises(RecipeError, match="unknown key or table 'teachr'"):
        load_recipe(p)


@pytest.mark.parametrize("line,err", [
    ("[teacher]\ntrain_blind_spot = 4", "teacher.train_blind_spot.*0 or a positive odd"),
    ("[teacher]\nlr = -1.0", "teacher.lr.*out of range"),
    ("[teacher]\nwidth = \"wide\"", "teacher.width.*wrong type"),
    ("[distill]\nteachers = [0, 2]", "distill.teachers"),
    ("[distill]\nmode = \"median\"", "allowed: multi, mean"),
    ("[distill]\nloss = \"huber\"", "allowed: l1, l2"),
    ("method = \"magic\"", "'method' = 'magic' is unknown"),
])
def test_bad_values_name_the_key_and_allowed_values(tmp_path, line, err):
    p = tmp_path / "r.toml"
    p.write_text(line + "\n")
    with pytest.raises(RecipeError, match=err):
        load_recipe(p)


def test_command_line_overrides_recipe():
    r = load_recipe("quick-cpu")
    apply_overrides(r, "teacher", {"lr": 5e-4, "batch": None})
    assert r["teacher"]["lr"] == 5e-4 and r["teacher"]["batch"] == load_recipe("quick-cpu")["teacher"]["batch"]
    assert parse_set(["distill.teachers=[0,1,3]"]) == {"distill": {"teachers": [0, 1, 3]}}
    with pytest.raises(RecipeError, match="teacher.bogus"):
        apply_overrides(r, "teacher", {"bogus": 1})


def test_cli_reports_recipe_errors_in_one_line(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text("[teacher]\nwidht = 16\n")
    (tmp_path / "img").mkdir()
    r = run_cli("train", tmp_path / "img", "-o", tmp_path / "run", "--recipe", p, check=False)
    assert r.returncode == 2 and "teacher.widht" in r.stderr and "Traceback" not in r.stderr

"""The README's transcript is real: run each command and compare its output."""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def transcript():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"<!-- transcript:.*?-->\s*```console\n(.*?)```", text, re.S).group(1)
    steps = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_readme_transcript(tmp_path):
    shutil.copytree(os.path.join(ROOT, "specs"), tmp_path / "specs")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    steps = transcript()
    assert len(steps) >= 8
    for command, expected in steps:
        r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                           text=True)
        shown = r.stdout if r.returncode == 0 else r.stdout + r.stderr
        assert shown.splitlines() == expected, command


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_rebuilds_only_changed_specs(tmp_path):
    """The pattern rule behaves as a user's Makefile would."""
    mk = tmp_path / "Makefile"
    mk.write_text(
        "build/%.onnx: specs/%.spec\n\t@mkdir -p build\n\t"
        f"{sys.executable} -m reluc build $< -o $@ -q\n"
    )
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.spec").write_text("sort n=4\n")
    run = lambda: subprocess.run(["make", "build/a.onnx"], cwd=tmp_path, capture_output=True,
                                 text=True, check=True).stdout  # noqa: E731
    assert "reluc build" in run()
    assert "up to date" in run()
    spec = tmp_path / "specs" / "a.spec"
    spec.write_text("sort n=5\n")
    later = os.stat(tmp_path / "build" / "a.onnx").st_mtime + 10
    os.utime(spec, (later, later))
    assert "reluc build" in run()


def test_readme_size_table_is_what_the_registry_builds():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import tables

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"<!-- table:sizes -->\n(.*?)<!-- end table:sizes -->", text, re.S)
    assert section.group(1) == tables.size_table(), "run `make tables` to update README.md"


def test_the_readme_pictures_are_the_ones_make_pictures_draws():
    """Every picture the README shows exists, and `make pictures` draws each of them."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", f.read())
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        drawn = {os.path.join("specs/pictures", m) for m in re.findall(r"-o \$\(1\)/(\S+)", f.read())}
    assert len(shown) >= 5 and set(shown) == drawn
    for path in shown:
        with open(os.path.join(ROOT, path), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", path


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation other than '-'
    and '_' dropped, spaces as '-'."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def broken_links(text: str, headings_of: dict[str, str], here: str) -> list[str]:
    """The links of ``text`` (a Markdown file at ``here``) to a file of ``headings_of``
    (path -> its text) or to a heading of its own that does not exist."""
    anchors = {path: {_anchor(h) for h in re.findall(r"^#+ (.+)$", body, re.M)}
               for path, body in headings_of.items()}
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        path = os.path.normpath(os.path.join(os.path.dirname(here), target)) if target else here
        if path not in anchors or anchor not in anchors[path]:
            broken.append(f"{target}#{anchor}")
    for target in re.findall(r"\]\(([^)#\s:]+)\)", text):  # local files, no anchor
        if not os.path.exists(os.path.join(ROOT, os.path.dirname(here), target)):
            broken.append(target)
    return broken


def test_every_link_of_the_readme_and_the_measurement_log_leads_somewhere():
    files = {}
    for path in ("README.md", "bench/HISTORY.md"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            files[path] = f.read()
    assert "(bench/HISTORY.md)" in files["README.md"]
    for path, text in files.items():
        assert broken_links(text, files, path) == [], path
    # the check itself: a heading that is not there, a file that is not there
    wrong = "see [Engines](#engine), [log](bench/HISTORY.md#engines), [x](bench/nothing.md)"
    assert broken_links(wrong, files, "README.md") == ["#engine", "bench/HISTORY.md#engines",
                                                       "bench/nothing.md"]
    assert _anchor("The sparse layout in `onnxruntime`") == "the-sparse-layout-in-onnxruntime"

"""The package as a shop gets it: built, checked, installed into a new project, run.

The ``field`` tests build the sdist and wheel from the committed tree once (in an
isolated build, so the declared build requirements are proven), check them with
``twine check --strict`` and look inside, then install the wheel into one fresh
virtualenv with nothing but its declared dependencies (whatever versions pip
picks today, not ``requirements.txt``'s pins). ``django-admin startproject`` makes
a project and the README's "Installing into your shop" blocks are applied to it
mechanically: they are found by their ``<!-- install: TARGET -->`` comments, so
the docs and this test cannot drift, and the fast tests at the top fail on a
README edit that breaks the markers. That project alone must pass the checks.

Then the shop's own code goes on top -- it is not an install step: a ``catalog``
app (``tests/field_install/``) whose ``Item`` is keyed by a text SKU, with field
names of its own mapped by ``PERSONALIZE_PRODUCT_FIELDS``. The shop is served by
``runserver`` (once on the database store, once on Redis) and used as shoppers,
a merchandiser, a bot and a browser use it. Every command runs in the shop's
virtualenv, so nothing from this test process (the demo, the test settings,
django-stubs-ext) can leak in.
"""

from __future__ import annotations

import ast
import contextlib
import fnmatch
import http.cookiejar
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from packaging.specifiers import SpecifierSet
from trove_classifiers import classifiers as KNOWN_CLASSIFIERS

import personalize
from tests.conftest import SHOPPER_UA, free_port

ROOT = Path(__file__).resolve().parent.parent
VERSION = personalize.__version__
WHEEL_NAME = f"django_personalize-{VERSION}-py3-none-any.whl"
SDIST_NAME = f"django_personalize-{VERSION}.tar.gz"

# What each README marker means to this test. "shell" is the build and install,
# which the test performs itself (the build with the suite's own interpreter, so
# the shop's virtualenv holds only the package and its dependencies).
APPENDED_TO = {
    "settings.py": "settings.py",
    "settings.py if SQLite": "settings.py",  # startproject's database is SQLite
    "urls.py": "urls.py",
}
TARGETS = {"shell", *APPENDED_TO}

# The shop's own code (tests/field_install/): added after the install blocks, never
# part of them. See that folder's README.
SHOP_CODE = Path(__file__).resolve().parent / "field_install"
MERCHANDISER_PASSWORD = "field-shop-admin-pass"


@dataclass(frozen=True)
class InstallBlock:
    """One fenced block of the README's install section and where it goes."""

    target: str
    language: str
    code: str


_BLOCK = re.compile(
    r"<!-- install: (?P<target>[^>]*?) -->\n```(?P<language>\w+)\n(?P<code>.*?)\n```", re.S
)


def install_section(readme: str) -> str:
    """The text of the README's "Installing into your shop" section."""
    start = readme.index("## Installing into your shop\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def install_blocks(readme: str) -> list[InstallBlock]:
    """The marked blocks of the install section, in README order."""
    return [
        InstallBlock(m["target"], m["language"], m["code"] + "\n")
        for m in _BLOCK.finditer(install_section(readme))
    ]


def readme_blocks() -> list[InstallBlock]:
    return install_blocks((ROOT / "README.md").read_text())


def wheel_glob(blocks: list[InstallBlock]) -> str:
    """The wheel path pattern the README's shell block installs."""
    (shell,) = [b for b in blocks if b.target == "shell"]
    for line in shell.code.splitlines():
        words = shlex.split(line, comments=True)
        if "install" in words and any(w.endswith(".whl") for w in words):
            return next(w for w in words if w.endswith(".whl"))
    raise AssertionError(f"the README's shell block installs no wheel:\n{shell.code}")


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# Fast checks of the README and the metadata: they run in every suite, in milliseconds.


def test_readme_install_blocks_are_marked_and_parse() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = install_blocks(readme)

    # Every marker is directly followed by its fenced block, each target once.
    assert install_section(readme).count("<!-- install:") == len(blocks)
    assert sorted(b.target for b in blocks) == sorted(TARGETS)
    for block in blocks:
        if block.target == "shell":
            assert block.language == "sh"
        else:
            assert block.language == "python"
            compile(block.code, f"README install block for {block.target}", "exec")


def test_readme_builds_the_wheel_it_installs() -> None:
    blocks = readme_blocks()
    (shell,) = [b for b in blocks if b.target == "shell"]

    assert "python -m build" in shell.code
    assert fnmatch.fnmatch(WHEEL_NAME, Path(wheel_glob(blocks)).name)
    assert "pip install django-personalize" not in (ROOT / "README.md").read_text()


def test_version_is_one_static_literal_with_a_changelog_entry() -> None:
    # setuptools reads `attr:` versions from the AST when it can; a computed
    # version would make every build import Django first.
    module = ast.parse((ROOT / "personalize" / "__init__.py").read_text())
    literals = [
        node.value.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    project = pyproject()["project"]
    assert isinstance(project, dict)

    assert literals == [VERSION]
    assert project["dynamic"] == ["version"]
    assert "version" not in project
    assert f"\n## [{VERSION}] - " in (ROOT / "CHANGELOG.md").read_text()


def test_classifiers_are_known_and_match_the_declared_versions() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    classifiers: list[str] = project["classifiers"]
    django = SpecifierSet(
        next(d for d in project["dependencies"] if d.startswith("Django")).removeprefix("Django")
    )
    python = SpecifierSet(project["requires-python"])
    django_versions = [
        tuple(map(int, c.rsplit(" :: ", 1)[1].split("."))) for c in classifiers if "Django :: " in c
    ]
    python_minors = [
        int(c.rsplit(".", 1)[1]) for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)
    ]
    # Django's feature releases go x.0, x.1, x.2, then (x+1).0.
    major, minor = min(django_versions)
    before_oldest = f"{major - 1}.2.0" if minor == 0 else f"{major}.{minor - 1}.0"
    major, minor = max(django_versions)
    after_newest = f"{major + 1}.0.0" if minor == 2 else f"{major}.{minor + 1}.0"

    assert [c for c in classifiers if c not in KNOWN_CLASSIFIERS] == []
    assert django_versions and python_minors
    assert all(f"{a}.{b}.0" in django for a, b in django_versions)
    # The range holds no Django the classifiers (and so the test matrix) leave out.
    assert before_oldest not in django
    assert after_newest not in django
    assert all(f"3.{m}.0" in python for m in python_minors)
    assert f"3.{min(python_minors) - 1}.0" not in python


# The build: once per module.


def _clean_env() -> dict[str, str]:
    """The environment a shop's shell has: none of this suite's settings or coverage hooks."""
    dropped = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(("COV_CORE_", "COVERAGE_", "PERSONALIZE_"))
    }


def run(
    args: list[str | Path],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    expect_failure: bool = False,
    timeout: float = 300,  # a cold pip cache downloads NumPy and SciPy
) -> subprocess.CompletedProcess[str]:
    """Run a command; unless it exits as expected, fail with its whole output."""
    command = [str(a) for a in args]
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**_clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert (result.returncode != 0) == expect_failure, (
        f"`{shlex.join(command)}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


@dataclass(frozen=True)
class Build:
    source: Path
    wheel: Path
    sdist: Path

    def app_files(self) -> set[str]:
        """Every file of the app in the source tree, as archive paths."""
        return {
            path.relative_to(self.source).as_posix()
            for path in (self.source / "personalize").rglob("*")
            if path.is_file()
        }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """sdist and wheel of the tree git would commit, built in isolation."""
    source = tmp_path_factory.mktemp("source")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():  # not a tracked file deleted in the work tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # The copy holds tests/ and the field shop's own apps; neither may ship.
    assert (source / "tests" / "field_install" / "catalog" / "models.py").is_file()
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", dist, source], source)
    assert {p.name for p in dist.iterdir()} == {SDIST_NAME, WHEEL_NAME}
    return Build(source, dist / WHEEL_NAME, dist / SDIST_NAME)


@pytest.mark.field
def test_distributions_pass_twine_check(build: Build) -> None:
    output = run(
        [sys.executable, "-m", "twine", "check", "--strict", build.sdist, build.wheel], ROOT
    ).stdout

    assert output.count("PASSED") == 2


@pytest.mark.field
def test_wheel_holds_the_app_and_nothing_else(build: Build) -> None:
    with zipfile.ZipFile(build.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"django_personalize-{VERSION}.dist-info/METADATA").decode()
    app = {n for n in names if n.startswith("personalize/")}
    others = names - app

    assert app == build.app_files()
    assert {
        "personalize/py.typed",
        "personalize/static/personalize/runtime.js",
        "personalize/static/personalize/runtime.css",
        "personalize/templates/personalize/head.html",
        "personalize/templates/personalize/recommendations/widget.html",
        "personalize/migrations/__init__.py",
        "personalize/migrations/0001_initial.py",
    } <= app
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []
    # Only the dist-info besides the app: no tests/, no field shop's catalog/.
    assert {n.split("/")[0] for n in others} == {f"django_personalize-{VERSION}.dist-info"}
    assert f"django_personalize-{VERSION}.dist-info/licenses/LICENSE" in others
    assert "License-Expression: MIT" in metadata
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requirements if "stubs" in r or "htmx" in r]
    assert 'Requires-Dist: django-oscar<4.3,>=4.2; extra == "oscar"' in requirements


@pytest.mark.field
def test_sdist_holds_the_app_licence_readme_and_changelog(build: Build) -> None:
    prefix = f"django_personalize-{VERSION}/"
    with tarfile.open(build.sdist) as sdist:
        names = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()}
    app = {n for n in names if n.startswith("personalize/")}

    assert app == build.app_files()
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "PKG-INFO"} <= names
    assert not [
        n
        for n in names
        if n.startswith(("tests/", "shop_demo/", "benchmarks/", "docs/", "templates/"))
        or "catalog/" in n
    ]


# The shop: one virtualenv, one project, the README's blocks, then the shop's own code.


@dataclass(frozen=True)
class Shop:
    venv: Path
    project: Path
    readme_check: str  # `manage.py check` of the project as the README leaves it
    readme_migrations: str  # `makemigrations --check personalize` of that project

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def manage(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([self.python, "manage.py", *args], self.project, **kwargs)

    def query(self, script: str, *args: str, **kwargs: Any) -> Any:
        """Run ``script`` in ``manage.py shell``; what it left in ``result``, through JSON."""
        script += "\nimport json\nprint(json.dumps(result))"
        output = self.manage("shell", "--verbosity", "0", "--command", script, *args, **kwargs)
        return json.loads(output.stdout)


@pytest.fixture(scope="module")
def shop(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The README's install applied to a new project, plus the shop's own catalogue."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", venv], venv)
    python = venv / "bin" / "python"
    blocks = readme_blocks()
    pattern = Path(wheel_glob(blocks)).name
    (wheel,) = [w for w in build.wheel.parent.iterdir() if fnmatch.fnmatch(w.name, pattern)]
    run([python, "-m", "pip", "install", "--no-input", "--quiet", wheel], venv)

    project = tmp_path_factory.mktemp("shop")
    run([venv / "bin" / "django-admin", "startproject", "fieldshop", project], project)
    package = project / "fieldshop"
    for block in blocks:
        if block.target == "shell":
            continue  # done above: the build and the wheel's install
        with (package / APPENDED_TO[block.target]).open("a") as file:
            file.write(f"\n# From the README: {block.target}\n{block.code}")
    manage = [python, "manage.py"]
    # The README's steps alone make a project that passes every check: record it now,
    # before the shop's own code below changes the project.
    readme_check = run([*manage, "check", "--fail-level", "WARNING"], project).stdout
    readme_migrations = run(
        [*manage, "makemigrations", "--check", "--dry-run", "personalize"], project
    ).stdout

    # The shop's own code, NOT an install step: its catalogue app, the settings that map
    # its product model onto personalize, its URLs, and the same project's settings for
    # production, Redis and a legacy USE_TZ = False.
    shutil.copytree(
        SHOP_CODE / "catalog", project / "catalog", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("settings", "urls"):
        with (package / f"{name}.py").open("a") as file:
            file.write("\n\n" + (SHOP_CODE / f"shop_{name}.py").read_text())
    for name in ("settings_production.py", "settings_redis.py", "settings_legacy.py"):
        shutil.copy2(SHOP_CODE / name, package / name)
    run([*manage, "makemigrations", "catalog"], project)
    run([*manage, "migrate", "--no-input", "--verbosity", "0"], project)
    run([*manage, "stock_shop"], project)
    superuser = ["--no-input", "--username", "merchandiser", "--email", "m@example.com"]
    run(
        [*manage, "createsuperuser", *superuser],
        project,
        env={"DJANGO_SUPERUSER_PASSWORD": MERCHANDISER_PASSWORD},
    )
    yield Shop(venv, project, readme_check, readme_migrations)
    shutil.rmtree(venv)  # 300 MB of NumPy and SciPy; pytest keeps three runs' temp dirs


@pytest.mark.field
def test_the_shop_runs_the_wheel_with_only_its_dependencies(shop: Shop) -> None:
    run([shop.python, "-m", "pip", "check"], shop.project)
    found = json.loads(
        run(
            [
                shop.python,
                "-c",
                "import importlib.util as u, json, personalize; print(json.dumps(["
                "personalize.__file__, u.find_spec('django_stubs_ext') is None, "
                "u.find_spec('shop_demo') is None, u.find_spec('dj_database_url') is None]))",
            ],
            shop.venv,
        ).stdout
    )
    location, no_stubs_ext, no_demo, no_demo_deps = found

    assert Path(location).is_relative_to(shop.venv)  # the wheel, not this checkout
    assert "/site-packages/personalize/" in location
    assert no_stubs_ext  # the app runs without the type checker's helpers
    assert no_demo and no_demo_deps


@pytest.mark.field
def test_the_readme_steps_alone_pass_the_checks(shop: Shop) -> None:
    assert "System check identified no issues (0 silenced)." in shop.readme_check
    assert "No changes detected" in shop.readme_migrations


@pytest.mark.field
def test_the_shop_with_its_own_product_model_passes_the_checks(shop: Shop) -> None:
    # Its PERSONALIZE_PRODUCT_FIELDS paths all exist on catalog.Item (no W005), and no
    # model change of the app or the shop lacks a migration.
    checks = shop.manage("check", "--fail-level", "WARNING").stdout
    migrations = shop.manage("makemigrations", "--check", "--dry-run").stdout

    assert "System check identified no issues (0 silenced)." in checks
    assert "No changes detected" in migrations


@pytest.mark.field
def test_the_checks_name_what_a_shop_leaves_out(shop: Shop) -> None:
    # Without the README's SQLite block, and with the demo-shaped default for a field
    # the shop's model names differently, the checks say what to change.
    messages = shop.query(
        "from django.conf import settings\n"
        "from django.core import checks\n"
        "settings.DATABASES['default']['OPTIONS'] = {}\n"
        "settings.PERSONALIZE_PRODUCT_FIELDS = {\n"
        "    k: v for k, v in settings.PERSONALIZE_PRODUCT_FIELDS.items() if k != 'title'}\n"
        "result = [[m.id, m.msg, m.hint] for m in checks.run_checks()\n"
        "          if m.id.startswith('personalize')]"
    )
    by_id = {id_: (msg, hint) for id_, msg, hint in messages}

    assert sorted(by_id) == ["personalize.W004", "personalize.W005"]
    assert '"transaction_mode": "IMMEDIATE"' in by_id["personalize.W004"][1]
    assert "'name' is not an attribute of catalog.Item" in by_id["personalize.W005"][0]


@pytest.mark.field
def test_a_project_without_time_zone_support_fails_the_checks(shop: Shop) -> None:
    # USE_TZ = False makes SQLite reject every event's timestamp while pages still load:
    # the checks say so before a shop goes live with an empty event log.
    result = shop.manage("check", "--settings", "fieldshop.settings_legacy", expect_failure=True)

    assert "personalize.E009" in result.stderr
    assert "USE_TZ = True" in result.stderr


@pytest.mark.field
def test_the_deployed_shop_serves_hashed_static_files(shop: Shop) -> None:
    # ManifestStaticFilesStorage fails on any url() in the app's CSS that points nowhere,
    # and with DEBUG = False on any {% static %} the manifest does not hold.
    production = ("--settings", "fieldshop.settings_production")
    shop.manage("collectstatic", "--no-input", *production)
    static = shop.project / "staticfiles"
    status, assets = shop.query(
        "import re\n"
        "from django.test import Client\n"
        "response = Client().get('/', HTTP_HOST='localhost')\n"
        "result = [response.status_code,\n"
        '          re.findall(r\'(?:src|href)="/static/([^"]+)"\', response.content.decode())]',
        *production,
    )

    assert status == 200
    assert [a for a in assets if a.startswith("personalize/")], assets
    for asset in assets:
        assert re.search(r"\.[0-9a-f]{12}\.(js|css)$", asset), asset  # the hashed name
        assert (static / asset).is_file(), asset


# The shop, served.


@contextlib.contextmanager
def serve(shop: Shop, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``runserver`` on a free port, as a shop's developer starts it; yields its base URL."""
    port = free_port()
    log_path = shop.project / f"runserver-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [shop.python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", *args],
            cwd=shop.project,
            env={**_clean_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"runserver exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"runserver is silent:\n{log_path.read_text()}"
            try:
                urllib.request.urlopen(url + "/static/personalize/runtime.js", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(shop: Shop) -> Iterator[str]:
    """The shop on the default (database) profile store."""
    with serve(shop) as url:
        yield url


class Shopper:
    """A browser as far as the server can tell: its own cookies, a browser's headers."""

    NAVIGATION = {"Accept": "text/html,*/*;q=0.8", "Sec-Fetch-Dest": "document"}

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def request(
        self,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        sent = {"User-Agent": SHOPPER_UA, **(headers or self.NAVIGATION)}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            sent["X-CSRFToken"] = self.cookie("csrftoken") or ""
            sent["Referer"] = self.base + "/"
        request = urllib.request.Request(self.base + path, data=body, headers=sent)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        status, body = self.request(path, headers=headers)
        assert status == 200, f"GET {path}: {status}\n{body[:2000]}"
        return body

    def post(self, path: str, data: dict[str, str] | None = None) -> str:
        status, body = self.request(path, data or {})
        assert status == 200, f"POST {path}: {status}\n{body[:2000]}"
        return body

    def visitor(self) -> dict[str, Any]:
        api = {"Accept": "application/json", "Sec-Fetch-Dest": "empty"}
        return dict(json.loads(self.get("/personalize/api/visitor/", api)))


@pytest.mark.field
def test_a_new_visitor_is_recognised_and_tracked(server: str) -> None:
    shopper = Shopper(server)
    home = shopper.get("/")
    runtime_url = re.search(r'src="([^"]*/runtime\.js)"', home)
    assert runtime_url is not None, home
    # runserver serves the wheel's static files (startproject sets DEBUG = True).
    runtime = shopper.get(runtime_url[1], {"Sec-Fetch-Dest": "script"})
    assert runtime == (ROOT / "personalize" / "static" / "personalize" / "runtime.js").read_text()
    assert shopper.cookie("pz_vid")
    # The three template tags: runtime assets, the content slot's default, the popup.
    assert 'id="default-hero"' in home
    assert "Welcome to the field shop" in home

    shopper.get("/items/GRD-004/")
    shopper.post("/items/GRD-004/add/")
    shopper.post("/items/GRD-007/add/")
    visitor = shopper.visitor()
    attributes = visitor["attributes"]
    assert visitor["tracked"] is True
    assert visitor["is_new"] is True
    assert visitor["visit_count"] == 1
    assert "new-visitors" in visitor["segments"]
    assert attributes["landing_path"] == "/"
    # Home, one item page and the two redirects back to it: not the script or the API.
    assert attributes["pageviews_total"] == 4
    assert sorted(attributes["viewed_products"]) == ["GRD-004", "GRD-007"]
    assert attributes["cart"]["items"] == 2
    assert attributes["cart"]["value"] == pytest.approx(8.50 + 11.50)

    receipt = shopper.post("/checkout/")
    assert "2 lines, 20.00 EUR" in receipt
    visitor = shopper.visitor()
    attributes = visitor["attributes"]
    # An anonymous shopper: the order shows in the segments, its details are personal.
    assert visitor["personal"] is False
    assert "first-time-buyers" in visitor["segments"]
    assert "orders_count" not in attributes and "purchased_products" not in attributes
    assert attributes["cart"]["items"] == 0


@pytest.mark.field
def test_a_bot_gets_pages_but_no_profile(server: str) -> None:
    request = urllib.request.Request(server + "/", headers={"User-Agent": "curl/8.0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "pz_vid" not in (response.headers.get("Set-Cookie") or "")


@pytest.mark.field
def test_recommendations_train_on_the_shops_own_products(shop: Shop, server: str) -> None:
    # Shoppers who look at GRD-002 also look at GRD-005 and GRD-008 (several aisles).
    for _ in range(3):
        shopper = Shopper(server)
        for sku in ("GRD-002", "GRD-005", "GRD-008"):
            shopper.get(f"/items/{sku}/")
    Shopper(server).get("/items/GRD-010/")

    shop.manage("personalize_train")

    # The server learns of the new model by its configuration version, which the
    # database store polls every PERSONALIZE_CONFIG_POLL_SECONDS (2 s): until then it
    # serves the rows it cached of the old model (none for this product).
    pattern = r'<section class="pz-recs[^"]*" data-pz-widget="item-viewed".*?</section>'
    deadline = time.monotonic() + 3 * 2 + 5
    while True:
        page = Shopper(server).get("/items/GRD-002/")
        widget = re.search(pattern, page, re.S)
        if widget or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert widget, page
    shown = re.findall(r'data-pz-item="([^"]+)"', widget[0])
    assert set(shown) == {"GRD-005", "GRD-008"}
    # The shop's own titles and URLs, through PERSONALIZE_PRODUCT_FIELDS.
    assert 'href="/items/GRD-005/"' in widget[0]
    assert "Pots item 5" in widget[0]


@pytest.mark.field
def test_every_admin_page_of_the_app_renders_in_a_project_without_the_demo(server: str) -> None:
    # The project has no templates of its own (DIRS = []): every admin page, chart and
    # preview must come from the wheel, and the widget preview reads the shop's Item model.
    merchandiser = Shopper(server)
    merchandiser.get("/admin/login/")
    merchandiser.post(
        "/admin/login/?next=/admin/",
        {"username": "merchandiser", "password": MERCHANDISER_PASSWORD, "next": "/admin/"},
    )
    seen: set[str] = set()
    queue = ["/admin/personalize/"]
    while queue and len(seen) < 400:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        status, body = merchandiser.request(path)
        assert status == 200, f"GET {path}: {status}\n{body[:3000]}"
        queue += [
            link
            for link in re.findall(r'href="(/admin/personalize/[^"?#]*)', body)
            if link not in seen
        ]
    visited = "\n".join(sorted(seen))
    # The crawl reached the pages a merchandiser works in, not just the index.
    for page in ("/campaign/add/", "/results/", "/preview/", "/widget/", "/segment/", "/test/"):
        assert page in visited, visited


@pytest.mark.field
def test_the_redis_store_and_its_worker_with_the_redis_client_pip_picks(
    shop: Shop, redis_url: str, redis_prefix: str
) -> None:
    # The operator's set-up from "Running on Redis", with redis-py as resolved from the
    # declared range (the suite itself runs the pinned version); the same project, on
    # settings_redis, served by a runserver of its own.
    redis_env = {"FIELDSHOP_REDIS_URL": redis_url, "FIELDSHOP_REDIS_PREFIX": redis_prefix}
    on_redis = ("--settings", "fieldshop.settings_redis")
    shop.manage("check", "--fail-level", "WARNING", *on_redis, env=redis_env)

    def logged_events(visitor_id: str) -> list[str]:
        return list(
            shop.query(
                "from personalize.models import Event\n"
                f"events = Event.objects.filter(visitor_id={visitor_id!r})\n"
                "result = sorted(events.values_list('name', flat=True))"
            )
        )

    with serve(shop, *on_redis, env=redis_env) as url:
        shopper = Shopper(url)
        shopper.get("/items/GRD-003/")
        shopper.post("/items/GRD-003/add/")
        shopper.post("/checkout/")
        visitor = shopper.visitor()
    assert visitor["degraded"] is False
    assert "first-time-buyers" in visitor["segments"]  # the order reached the profile
    with redis.Redis.from_url(redis_url) as client:
        assert client.keys(f"{redis_prefix}:*")  # the profile lives in Redis
    # Events wait in the stream until a worker moves them into the database log.
    assert logged_events(visitor["id"]) == []
    shop.manage("personalize_worker", "--until-empty", *on_redis, env=redis_env)
    assert logged_events(visitor["id"]) == [
        "add_to_cart",
        "page_view",
        "page_view",
        "product_view",
        "product_view",
        "purchase",
    ]


@pytest.mark.field
@pytest.mark.browser
def test_the_popup_captures_an_email_in_a_browser_without_htmx(
    shop: Shop, server: str, page: Any
) -> None:
    # The field shop loads no htmx and no CSP middleware: the runtime alone shows the
    # popup, submits the capture form (CSRF included) and reports what the shopper saw.
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Only the shop's own missing files may fail (it serves no favicon and no pictures).
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}")
        if r.status >= 400 and not re.search(r"/favicon\.ico$|/media/items/", r.url)
        else None,
    )
    page.goto(server + "/")
    popup = page.locator('[data-pz-campaign="field-welcome"]')
    popup.wait_for(state="visible")
    assert popup.get_attribute("role") == "dialog"
    popup.locator("input[type=email]").fill("gardener@example.com")
    popup.locator("input[name=consent]").check()
    popup.locator("button[type=submit]").click()
    page.wait_for_function(
        "(el) => el.textContent.includes('Thank you')", arg=popup.element_handle(), timeout=5000
    )
    identity: dict[str, Any] = page.evaluate(
        "async () => (await fetch('/personalize/api/visitor/')).json()"
    )
    assert identity["attributes"]["is_identified"] is True
    assert errors == []
    names, leads = shop.query(
        "from personalize.models import Event, Lead\n"
        f"events = Event.objects.filter(visitor_id={identity['id']!r})\n"
        "result = [sorted(set(events.values_list('name', flat=True))),\n"
        "          list(Lead.objects.values_list('email', flat=True))]"
    )
    assert {"campaign_impression", "identify", "page_view"} <= set(names), names
    assert "gardener@example.com" in leads

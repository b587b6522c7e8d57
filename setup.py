"""Only what pyproject.toml cannot say: the web client (``clients/web``, kept at the top of
the repository for its own tooling) goes into the wheel as ``voiceroom/web``, where
``voiceroom.config`` finds it with importlib.resources. Its unit tests stay out."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEB = Path(__file__).resolve().parent / "clients" / "web"


class BuildPyWithWeb(build_py):
    def run(self) -> None:
        super().run()
        if not WEB.is_dir() or self.editable_mode:  # editable: served from the source tree
            return
        target = Path(self.build_lib) / "voiceroom" / "web"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(WEB, target, ignore=shutil.ignore_patterns("test", "node_modules", ".*"))


setup(cmdclass={"build_py": BuildPyWithWeb})

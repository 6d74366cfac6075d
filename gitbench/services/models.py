"""`gitbench models`: what is configured, and whether each provider answers."""

from __future__ import annotations

import shutil
from typing import Any

from gitbench.providers import config as provider_config
from gitbench.services.workbench import Workbench


def models(wb: Workbench, check: bool = True) -> dict[str, Any]:
    """Each provider: where it is, where that was configured, whether it answers (when the user chose it)."""
    cfg = provider_config.load(wb.git.workdir)
    out: list[dict[str, Any]] = []
    # A provider the default model or an alias names is the user's choice too (`model = "ollama:..."` alone).
    named = {t.partition(":")[0] for t in [cfg.default_model or "", *cfg.aliases.values()]}
    for name, p in sorted(cfg.providers.items()):
        # Only providers the user chose are asked: an unconfigured one has nowhere of the user's choosing to go.
        item: dict[str, Any] = {
            "name": name,
            "kind": p.kind,
            "base_url": p.base_url,
            "configured": p.configured,
            "source": p.source,
            "key": bool(p.api_key),
            "key_env": p.api_key_env or None,
            "checked": False,
            "ok": False,
            "answer": None,
            "models": [],
        }
        if check and (p.configured or name in named):
            from gitbench.providers import transport

            ok, answer, names = transport.probe(p)
            item.update(checked=True, ok=ok, answer=answer, models=names[:50])
        out.append(item)
    aliases = dict(cfg.aliases)
    targets = [cfg.default_model or "", *aliases.values()]
    commands = []
    for target in targets:
        if target.startswith("command:"):
            spec = cfg.resolve(target)
            found = shutil.which(spec.argv[0]) if spec.argv else None
            commands.append({"model": target, "program": spec.argv[0], "found": found})
    return {
        "default_model": cfg.default_model,
        "aliases": aliases,
        "providers": out,
        "commands": commands,
        "config_files": cfg.files,
        "user_config": provider_config.user_config_path(),
    }

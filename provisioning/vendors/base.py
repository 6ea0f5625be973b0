"""The interface every vendor module implements: which files exist for a MAC and model, how the files
are rendered (Jinja2 templates under provisioning/templates/<vendor>/), how many keys a model has."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..model import DeviceConfig, Key, Options, Rendered, clean


@dataclass(frozen=True)
class ModelSpec:
    name: str
    line_keys: int  # programmable keys on the phone itself (all pages)
    module_keys: int = 0  # keys per expansion module, 0 if none can be attached
    code: str = ""  # vendor's model code when file names need it (Yealink y0000000000NN.cfg)


def xml_text(value: object) -> str:
    """Every `{{ }}` of an XML template goes through this (the XML environment's `finalize`): the value as
    text with &, <, >, " and ' escaped, byte for byte what Jinja's autoescape (markupsafe) writes, without
    building a Markup object per value (half of a file's render time when it did)."""
    text = value if type(value) is str else str(value)
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        text = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&#34;").replace("'", "&#39;"))
    return text


@lru_cache(maxsize=2)
def environment(xml: bool = False) -> Environment:
    """XML templates (`*.xml.j2`): every value escaped (&, <, >, " and ') by `xml_text`; text formats:
    `clean` on every value, in the templates. Templates are read once (no file check per render)."""
    env = Environment(
        loader=PackageLoader("clusterpbx.provisioning", "templates"),
        # Not HTML: XML files are escaped by finalize (every value, see xml_text), text files by `clean`.
        autoescape=False,  # noqa: S701
        finalize=xml_text if xml else None,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["clean"] = clean
    return env


def render_template(name: str, **context: object) -> str:
    return environment(name.endswith(".xml.j2")).get_template(name).render(**context)


class Vendor:
    name = ""
    label = ""
    models: dict[str, ModelSpec] = {}
    default_model = ""
    # Files requested before the phone is known (no secrets in them), as regexes on the file name.
    generic_patterns: tuple[str, ...] = ()

    def spec(self, model: str) -> ModelSpec:
        return self.models.get(model) or self.models[self.default_model]

    def key_capacity(self, model: str, modules: int = 0) -> int:
        spec = self.spec(model)
        return spec.line_keys + spec.module_keys * modules

    def device_files(self, mac: str, model: str) -> list[str]:
        """File names this phone fetches that are specific to it."""
        raise NotImplementedError

    def canonical(self, filename: str, mac: str, model: str) -> str | None:
        """The file `filename` stands for (phones use aliases), or None if this phone has no such file."""
        return filename if filename in self.device_files(mac, model) else None

    def is_generic(self, filename: str) -> bool:
        return any(re.fullmatch(p, filename) for p in self.generic_patterns)

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        raise NotImplementedError

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        raise NotImplementedError

    # helpers shared by the vendors
    @staticmethod
    def keys_by_position(cfg: DeviceConfig, capacity: int) -> dict[int, Key]:
        return {k.position: k for k in cfg.keys if 1 <= k.position <= capacity}

    @staticmethod
    def merged(generated: dict[str, str], options: Options) -> dict[str, str]:
        """The operator's template parameters win over anything generated, so user keys never wipe them."""
        out = dict(generated)
        out.update(options.params)
        return out

    @staticmethod
    def phonebook_name(language: str) -> str:
        return "Répertoire" if language.startswith("fr") else "Directory"

"""Published reference rows: `published.yaml` beside this file holds numbers as printed in papers,
each with the paper, table and copy it was transcribed from (docs/leaderboards.md). Leaderboards
show them beside measured rows of the same eval split (xbench/leaderboard/ places them): every
shipped row is a test-set number, so beside dev results they are left out or marked."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from xbench.errors import XbenchError

SHIPPED = "published.yaml"
SPLITS = ("test", "dev")  # the eval splits a published row can be on (results.RunResult)


class ReferencesError(XbenchError):
    """A reference file is invalid."""


@dataclass(frozen=True)
class Reference:
    """A published row: numbers as printed (x100) with the citation they came from."""

    model: str
    task: str
    scores: dict[str, dict[str, float]]
    avg: dict[str, float]
    citation: str
    table: str
    verified_from: str
    hub_id: str | None = None
    setting: str | None = None
    split: str = "test"  # the eval split the paper's numbers are on

    def cite(self, metric: str) -> str:
        paper = self.avg.get(metric)
        text = f"{self.citation}, {self.table}"
        if paper is not None:
            text += f"; printed average {paper:.1f} over {len(self.scores[metric])} languages"
        if self.verified_from.startswith("secondary"):
            text += "; transcribed from a secondary copy (see xbench/references/published.yaml)"
        return text


def load_references(path: Path | None = None) -> list[Reference]:
    """The published rows shipped in xbench/references/published.yaml (or another file)."""
    if path is None:
        text = resources.files(__name__).joinpath(SHIPPED).read_text("utf-8")
        where = f"xbench/references/{SHIPPED}"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        raw = yaml.safe_load(text)
        sources = raw["sources"]
        refs = []
        for row in raw["rows"]:
            src = sources[row["source"]]
            if row.get("split", "test") not in SPLITS:
                raise ValueError(f"{row['model']}: split must be one of {', '.join(SPLITS)}")
            refs.append(
                Reference(
                    model=row["model"],
                    task=row["task"],
                    scores={
                        m: {k: float(v) for k, v in s.items()} for m, s in row["scores"].items()
                    },
                    avg={m: float(v) for m, v in row.get("avg", {}).items()},
                    citation=f"{src.get('short') or src['citation']} (arXiv:{src['arxiv']})",
                    table=row["table"],
                    verified_from=" ".join(row["verified_from"].split()),
                    hub_id=row.get("hub_id"),
                    setting=row.get("setting"),
                    split=str(row.get("split", "test")),
                )
            )
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ReferencesError(f"invalid reference file {where}: {err!r}") from None
    return refs

"""prompt_extend by a language model: an optional OpenAI-compatible chat endpoint (R2V_PROMPT_EXTEND_URL)
rewrites the prompt, guided by the director's plan, into an explicit shot script. The answer is used only if it
keeps every reference the prompt names and every line of dialogue; otherwise, or when the endpoint fails, the
plan's own script is the actual prompt."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import httpx

from r2v.director.storyboard import Storyboard

log = logging.getLogger(__name__)
SYSTEM = (
    "You are a film director. Rewrite the user's video prompt as an explicit shot script: one line per shot "
    "with its time range, framing, camera and action. Keep every reference token (图1, 视频1, Image 1, "
    "character1, ...) and every quoted line of dialogue exactly as written. Answer with the script only."
)
_REFERENCE = re.compile(r"(?:图片?|视频)\s*\d+|(?i:\b(?:image|video|character)\s*\d+)")


@dataclass(frozen=True)
class PromptRewriter:
    url: str  # the endpoint's base (".../v1") or its full chat-completions URL
    model: str = "gpt-4o-mini"
    api_key: str | None = None
    timeout_s: float = 30.0

    def rewrite(self, prompt: str, board: Storyboard) -> str:
        script = board.script()
        try:
            answer = self._ask(prompt, script)
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("prompt_extend endpoint failed (%s); using the director's script", exc)
            return script
        missing = [ref for ref in _references(prompt) if ref not in _references(answer)]
        missing += [line.text for line in board.lines if line.text not in answer]
        if not answer.strip() or missing:
            log.warning("prompt_extend answer dropped %s; using the director's script", missing or "everything")
            return script
        return answer.strip()

    def _ask(self, prompt: str, script: str) -> str:
        url = self.url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "temperature": 0,
                "messages": [{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": f"{prompt}\n\nThe director's plan:\n{script}"}]}  # fmt: skip
        response = httpx.post(url, json=body, headers=headers, timeout=self.timeout_s, trust_env=False)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])


def _references(text: str) -> set[str]:
    return {re.sub(r"\s+", "", m.group()).lower() for m in _REFERENCE.finditer(text)}

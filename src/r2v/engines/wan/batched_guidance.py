"""Classifier-free guidance in one batched pass. diffusers' Wan pipelines call the transformer twice per step, on
the same latents: with the prompt, then with the negative prompt. Put in the pipeline's place, BatchedGuidance
answers the first call with one pass over a batch of two (prompt and negative prompt together) and the second
call with the half it kept: the same numbers, one set of kernel launches and weight reads instead of two, which is
what makes small and medium sizes faster on a GPU. It pairs only the embeddings it was told about (`pair`); any
other call goes straight through."""

from __future__ import annotations

import torch


class BatchedGuidance(torch.nn.Module):
    def __init__(self, transformer: torch.nn.Module):
        super().__init__()
        self.inner = transformer
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None
        self._kept: tuple[torch.Tensor, torch.Tensor] | None = None  # (latents, unconditional prediction)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:  # config, dtype, cache_context...: the wrapped transformer's
            return getattr(super().__getattr__("inner"), name)

    def pair(self, prompt_embeds: torch.Tensor, negative_embeds: torch.Tensor) -> None:
        """The embeddings the pipeline will be called with (the very tensors: they are recognised by identity)."""
        self._pair, self._kept = (prompt_embeds, negative_embeds), None

    def forward(self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                return_dict: bool = True, **kwargs):  # fmt: skip
        pair, kept = self._pair, self._kept
        if pair is not None and encoder_hidden_states is pair[1] and kept is not None and kept[0] is hidden_states:
            self._kept = None
            return (kept[1],)  # the unconditional half of the pass made for the conditional call
        if pair is None or encoder_hidden_states is not pair[0]:
            kwargs.update(hidden_states=hidden_states, timestep=timestep, encoder_hidden_states=encoder_hidden_states)
            return self.inner(return_dict=return_dict, **kwargs)
        control = kwargs.pop("control_hidden_states", None)
        if control is not None:
            kwargs["control_hidden_states"] = torch.cat([control, control])
        both = self.inner(hidden_states=torch.cat([hidden_states, hidden_states]),
                          timestep=torch.cat([timestep, timestep]), encoder_hidden_states=torch.cat(pair),
                          return_dict=False, **kwargs)[0]  # fmt: skip
        conditional, unconditional = both.chunk(2)
        self._kept = (hidden_states, unconditional)
        return (conditional,)

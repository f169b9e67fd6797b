"""Engines for the FASHN end-to-end tests, as instances (`--engine tests.fashn.engines:NAME`)."""

from __future__ import annotations

from tests.support.fake_engine import FakeEngine

from vestis.engines.base import EngineError, EngineOutput, SwapSpec


class NonGenerativeFakeEngine(FakeEngine):
    """FakeEngine that, like the local engine, cannot invent an identity."""

    name = "fake-non-generative"

    def generate_identity(self, spec: SwapSpec) -> EngineOutput:
        raise EngineError("the fake non-generative engine cannot invent an identity")


fake = FakeEngine()
non_generative = NonGenerativeFakeEngine()

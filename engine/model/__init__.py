"""PneumoLLM itself (section 3 of the paper) and what a head is made of.

``config`` (frozen dataclasses), ``backbones`` / ``vision`` / ``llm`` (the frozen encoders with their adapters),
``pneumollm`` (token engine, neck, emitter mask, heads), ``head_card`` + ``checkpoint`` (a head on disk),
``store`` (installed heads), ``registry`` (profiles), ``runtime`` (device and dtype), ``speedups``,
``inventory`` (shapes without weights). Nothing is imported here: ``import engine.model.config`` stays light.
"""

"""The cloud tests run programs through the shipped testing kit (``paybill_infra.testing``), as users do."""

from paybill_infra.testing import ACCOUNT, ProgramRun, Registered, run_program

Run = ProgramRun

__all__ = ["ACCOUNT", "Registered", "Run", "run_program"]

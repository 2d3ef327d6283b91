"""Testing kit for programs built on Paybill Infra's components: Pulumi mocks that answer like the five
clouds' providers, and a runner that records what a program registers.

.. code-block:: python

    from paybill_infra.testing import run_program

    def program():
        platform = AwsPlatform("pool", AwsPlatformArgs(name="pool-eu", region="eu-west-1"))
        return {"host": platform.db_host}

    run = run_program(program)
    assert run.outputs["host"].endswith(".rds.amazonaws.com")
    assert run.of_type("aws:kms/key:Key")

No cloud account, credentials or provider plugin is needed.
"""

from paybill_infra.testing.mocks import ACCOUNT, CloudMocks, DatabaseStandIn, cloud_outputs
from paybill_infra.testing.run import ProgramRun, Registered, run_program

__all__ = ["ACCOUNT", "CloudMocks", "DatabaseStandIn", "ProgramRun", "Registered", "cloud_outputs", "run_program"]

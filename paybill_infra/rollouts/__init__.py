"""Rollouts in waves: a change brought to every unit of the fleet, canary first, then percentages of it,
stopping once failures exceed an error budget (see :mod:`paybill_infra.rollouts.runner`)."""

"""An off spell: a browned-out supercapacitor or an empty battery, until it is recharged and has booted.

:func:`device_off` turns the device off, loses the samples that arrive while it is off or booting (and
those waiting in the buffer), runs the storage between arrivals until it reaches its restart level
(:func:`tinysim_gym.core.brownout.supercap_off_run`, :func:`tinysim_gym.core.restart.battery_off_run`),
then boots (the boot's ticks and charge run through the storage with the harvest; a storage emptied while
booting turns the device off again) and hands the device back on, or stops at the horizon.
"""

from __future__ import annotations

from tinysim_gym.core.battery import battery_run
from tinysim_gym.core.brownout import supercap_boot, supercap_off_run, supercap_run
from tinysim_gym.core.jit import njit
from tinysim_gym.core.layout import (
    DECISION,
    END_HORIZON,
    END_NONE,
    F_STORE,
    G_SUPERCAP,
    I_H,
    NEED_ARRIVALS,
    S_AI,
    S_AN,
    S_ARR,
    S_BROWNOUTS,
    S_DROP_AFTER,
    S_DROP_OFF,
    S_END,
    S_FREE,
    S_OFF,
    S_Q,
    S_QHEAD,
    S_REASON,
    STORE_SUPERCAP,
)
from tinysim_gym.core.restart import battery_boot, battery_off_run
from tinysim_gym.core.supercap import X_BOOT_CHARGE, X_BOOT_TICKS, X_OFF_TICKS

OFF_NEED_ARRIVALS = 0  # refill the arrivals and call again
OFF_ON = 1  # the horizon is reached, or the device has booted and is on from ST[S_FREE]
OFF_RUN = 2  # run the storage from ST[S_END] to the next arrival (or the horizon)


@njit(cache=True, inline="always")
def turn_off(ST):
    """Count a brown-out, once per off spell; the samples waiting in the buffer are lost."""
    if ST[S_OFF] == 0:
        ST[S_OFF] = 1
        ST[S_BROWNOUTS] += 1
        ST[S_DROP_OFF] += ST[S_Q]
        ST[S_DROP_AFTER] += ST[S_Q]
        ST[S_Q] = 0
        ST[S_QHEAD] = 0


@njit(cache=True, inline="always")
def next_off_event(ST, arr, H):
    """Lose the samples that arrive before ``ST[S_END]`` (or at it, while off); end the spell when due.

    Returns ``OFF_NEED_ARRIVALS``, ``OFF_ON`` or ``OFF_RUN``.
    """
    while True:
        if ST[S_AI] >= ST[S_AN]:
            return OFF_NEED_ARRIVALS
        ta = arr[ST[S_AI]]
        t = ST[S_END]
        if ta < H and (ta < t or (ta == t and ST[S_OFF] == 1)):
            ST[S_AI] += 1
            ST[S_ARR] += 1
            ST[S_DROP_OFF] += 1
            ST[S_DROP_AFTER] += 1
            continue
        if t >= H:
            ST[S_OFF] = 0
            ST[S_END] = H
            ST[S_REASON] = END_HORIZON
            return OFF_ON
        if ST[S_OFF] == 2:  # booted
            ST[S_OFF] = 0
            ST[S_FREE] = t
            ST[S_END] = -1
            ST[S_REASON] = END_NONE
            return OFF_ON
        return OFF_RUN


@njit(cache=True)
def device_off(ST, FS, PI, PF, arr):
    """The storage ran out at ``ST[S_END]``: off until recharged and booted, or the horizon (which it needs).

    Returns ``NEED_ARRIVALS`` or ``DECISION`` (the device is on again from ``ST[S_FREE]``, or the horizon
    is reached).
    """
    H = PI[I_H]
    supercap = PF[F_STORE] == STORE_SUPERCAP
    boot_ticks, boot_d = supercap_boot(PF) if supercap else battery_boot(PF)
    turn_off(ST)
    while True:
        event = next_off_event(ST, arr, H)
        if event == OFF_NEED_ARRIVALS:
            return NEED_ARRIVALS
        if event == OFF_ON:
            return DECISION
        t = ST[S_END]
        n = min(arr[ST[S_AI]], H) - t
        m = supercap_off_run(FS, PI, PF, t, n) if supercap else battery_off_run(FS, PI, PF, t, n)
        if m < 0:  # still off at the next arrival (or the horizon)
            FS[G_SUPERCAP + X_OFF_TICKS] += n
            ST[S_END] = t + n
            continue
        FS[G_SUPERCAP + X_OFF_TICKS] += m
        t_on = t + m
        nb = min(boot_ticks, H - t_on)
        ST[S_OFF] = 2
        ST[S_END] = t_on + nb
        if nb > 0:
            j = supercap_run(FS, PI, PF, boot_d, nb, t_on) if supercap else battery_run(FS, PI, PF, boot_d, nb, t_on)
            ran = nb if j < 0 else j
            FS[G_SUPERCAP + X_BOOT_TICKS] += ran
            FS[G_SUPERCAP + X_BOOT_CHARGE] += ran * boot_d
            if j >= 0:  # emptied while booting
                ST[S_END] = t_on + j
                ST[S_OFF] = 1
                ST[S_BROWNOUTS] += 1

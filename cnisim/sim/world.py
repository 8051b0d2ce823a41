"""The World both ipamd engines act on: the subnets, the EC2 API model and the named streams.

A World is built from one seed, outside the engines, and passed in; anything may take or
return subnet addresses in it at any time of a run (load balancers, Fargate pods, the EKS
control plane's ENIs), and every EC2 caller shares its account-wide token buckets. Two
implementations of the same interface exist:

- :class:`PlainWorld`: :class:`~cnisim.sim.subnet.AddressSpace` and
  :class:`~cnisim.sim.ec2.Ec2Api`, plain Python and numpy, the oracle the reference model
  (:mod:`cnisim.sim.ipamd`) runs on;
- :class:`cnisim.sim.fastworld.FastWorld`: the same state and rules in compiled code, which the
  fast engine (:mod:`cnisim.sim.fastengine`) runs on.

Both draw the same numbers from the same streams in the same order, so the same calls give the
same answers (``tests/test_world_agreement.py``). Streams: ``subnet``, ``ec2`` and
``placement`` are ``numpy.random.default_rng(seed).spawn(3)`` in that order (the seeds of
earlier cnisim versions give the same streams); :meth:`PlainWorld.stream` gives further named
streams for the layers above the engines (workloads, boot times), each a function of the seed
and its name only.

References
----------
The tick contract, :mod:`cnisim.sim.contract`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from cnisim.errors import UsageError
from cnisim.sim.contract import ACTIONS
from cnisim.sim.ec2 import Ec2Api, Ec2Params, Ec2Result
from cnisim.sim.subnet import AddressArray, AddressSpace, AllocationErrorCode, SubnetStats

__all__ = ["ENGINE_STREAMS", "PlainWorld", "World", "WorldBase", "named_stream"]

#: Streams the engines draw from, in the order they are spawned from the seed.
ENGINE_STREAMS: Final = ("subnet", "ec2", "placement")

ReservationType = Literal["prefix", "explicit"]


def named_stream(seed: int, name: str) -> np.random.Generator:
    """A random stream for ``name`` that depends only on the seed and the name.

    Layers above the engines (workloads, boot times, the scheduler's ties) take their own
    stream by name, so adding a stream never changes another's draws.

    Examples
    --------
    >>> a, b = named_stream(7, "workloads"), named_stream(7, "workloads")
    >>> bool(a.random() == b.random())
    True
    """
    if seed < 0:
        raise UsageError(f"seed {seed} is negative: use 0 or more")
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


class World(Protocol):
    """What the layers above the engines may do with a World, whichever implements it."""

    seed: int

    def stream(self, name: str) -> np.random.Generator:
        """A named random stream (see :func:`named_stream`)."""
        ...

    def subnet_ids(self) -> list[str]:
        """Subnet ids in creation order."""
        ...

    def cidr(self, subnet_id: str) -> str:
        """A subnet's CIDR."""
        ...

    def new_owner_id(self) -> int:
        """A fresh holder id for :meth:`allocate_fixed`."""
        ...

    def reserve_cidr(self, subnet_id: str, cidr: str, reservation_type: ReservationType) -> None:
        """Add a subnet CIDR reservation."""
        ...

    def allocate_fixed(
        self,
        subnet_id: str,
        owner: int,
        n_ips: int = 0,
        addresses: npt.ArrayLike | None = None,
        now_s: float | None = None,
    ) -> AddressArray:
        """Take addresses for a holder outside the CNI."""
        ...

    def release_owner(self, owner: int) -> int:
        """Return everything a holder holds; the number of addresses returned."""
        ...

    def available_ip_address_count(self, subnet_id: str) -> int:
        """DescribeSubnets' AvailableIpAddressCount."""
        ...

    def n_free_prefix_blocks(self, subnet_id: str) -> int:
        """Free aligned /28 blocks EC2 may delegate."""
        ...

    def first_failure_s(self, subnet_id: str, code: AllocationErrorCode) -> float | None:
        """When a request in the subnet was first refused with ``code`` [s], or None."""
        ...

    def stats(self, subnet_id: str) -> SubnetStats:
        """A subnet's use and fragmentation."""
        ...

    def describe(self, now_s: float, action: str, instance_id: int | None = None) -> Ec2Result:
        """One Describe* call through the account's buckets."""
        ...

    def n_calls_by_action(self) -> dict[str, int]:
        """EC2 requests by action, every attempt."""
        ...

    def n_throttled_by_action(self) -> dict[str, int]:
        """Throttled EC2 attempts by action."""
        ...

    def calls_per_minute(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """EC2 attempts and throttled attempts per minute and action."""
        ...


class WorldBase:
    """The World methods, delegated to ``self.space`` (the subnets) and ``self.ec2``.

    Subclasses build ``space`` (AddressSpace or its compiled twin) and ``ec2`` (Ec2Api or its
    twin) from one seed; the methods below are then the same for both.
    """

    seed: int
    space: Any
    ec2: Any

    def stream(self, name: str) -> np.random.Generator:
        """A named random stream (see :func:`named_stream`)."""
        return named_stream(self.seed, name)

    def subnet_ids(self) -> list[str]:
        """Subnet ids in creation order."""
        return list(self.space.subnet_ids())

    def cidr(self, subnet_id: str) -> str:
        """A subnet's CIDR."""
        return str(self.space.cidr(subnet_id))

    def new_owner_id(self) -> int:
        """A fresh holder id."""
        return int(self.space.new_owner_id())

    def reserve_cidr(self, subnet_id: str, cidr: str, reservation_type: ReservationType) -> None:
        """Add a subnet CIDR reservation (before anything holds addresses in its range)."""
        self.space.reserve_cidr(subnet_id, cidr, reservation_type)

    def allocate_fixed(
        self,
        subnet_id: str,
        owner: int,
        n_ips: int = 0,
        addresses: npt.ArrayLike | None = None,
        now_s: float | None = None,
    ) -> AddressArray:
        """Take addresses for a holder outside the CNI (see AddressSpace.allocate_fixed)."""
        result: AddressArray = self.space.allocate_fixed(subnet_id, owner, n_ips, addresses, now_s)
        return result

    def release_owner(self, owner: int) -> int:
        """Return everything a holder holds."""
        return int(self.space.release_owner(owner))

    def available_ip_address_count(self, subnet_id: str) -> int:
        """DescribeSubnets' AvailableIpAddressCount."""
        return int(self.space.available_ip_address_count(subnet_id))

    def n_free_prefix_blocks(self, subnet_id: str) -> int:
        """Free aligned /28 blocks EC2 may delegate."""
        return int(self.space.n_free_prefix_blocks(subnet_id))

    def first_failure_s(self, subnet_id: str, code: AllocationErrorCode) -> float | None:
        """When a request in the subnet was first refused with ``code`` [s], or None."""
        first: float | None = self.space.first_failure_s(subnet_id, code)
        return first

    def stats(self, subnet_id: str) -> SubnetStats:
        """A subnet's use and fragmentation."""
        stats: SubnetStats = self.space.stats(subnet_id)
        return stats

    def describe(self, now_s: float, action: str, instance_id: int | None = None) -> Ec2Result:
        """One Describe* call through the account's buckets."""
        result: Ec2Result = self.ec2.describe(now_s, action, instance_id)
        return result

    def n_calls_by_action(self) -> dict[str, int]:
        """EC2 requests by action, every attempt."""
        return {a: int(n) for a in ACTIONS if (n := self.ec2.n_calls_by_action[a])}

    def n_throttled_by_action(self) -> dict[str, int]:
        """Throttled EC2 attempts by action."""
        return {a: int(n) for a in ACTIONS if (n := self.ec2.n_throttled_by_action[a])}


class PlainWorld(WorldBase):
    """The World in plain Python and numpy: the reference model's oracle.

    Parameters
    ----------
    subnet_cidrs : mapping of str to str
        Subnet id -> IPv4 CIDR (/16 to /28), in creation order.
    seed : int
        Run seed (>= 0).
    ec2_params : Ec2Params, optional
        EC2 latencies, buckets and retries (default: the model's defaults).

    Attributes
    ----------
    space : AddressSpace
        The subnets.
    ec2 : Ec2Api
        The EC2 model.
    placement_rng : numpy.random.Generator
        The stream pod placement draws from.

    Examples
    --------
    >>> world = PlainWorld({"subnet-a": "10.0.0.0/24"}, seed=1)
    >>> holder = world.new_owner_id()
    >>> world.allocate_fixed("subnet-a", holder, n_ips=8).size  # an ALB's 8 addresses
    8
    >>> world.available_ip_address_count("subnet-a")
    243
    """

    kind: Final = "plain"

    def __init__(
        self,
        subnet_cidrs: Mapping[str, str],
        *,
        seed: int = 0,
        ec2_params: Ec2Params | None = None,
    ) -> None:
        if seed < 0:
            raise UsageError(f"seed {seed} is negative: use 0 or more")
        self.seed = seed
        subnet_rng, ec2_rng, self.placement_rng = np.random.default_rng(seed).spawn(3)
        self.space = AddressSpace(rng=subnet_rng)
        for subnet_id, cidr in subnet_cidrs.items():
            self.space.add_subnet(subnet_id, cidr)
        self.ec2 = Ec2Api(
            self.space, ec2_params if ec2_params is not None else Ec2Params(), ec2_rng
        )

    def calls_per_minute(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """EC2 attempts and throttled attempts per minute (rows) and action (columns)."""
        log = self.ec2.attempt_log()
        minute = np.floor(log["t_s"] / 60.0).astype(np.int64)
        n_minutes = int(minute.max()) + 1 if minute.size else 0
        action = np.array([ACTIONS.index(a) for a in log["action"]], dtype=np.int64)
        flat = minute * len(ACTIONS) + action
        size = n_minutes * len(ACTIONS)
        calls = np.bincount(flat, minlength=size).reshape(n_minutes, len(ACTIONS))
        throttled = np.bincount(flat[log["throttled"]], minlength=size)
        return calls.astype(np.int64), throttled.reshape(n_minutes, len(ACTIONS)).astype(np.int64)

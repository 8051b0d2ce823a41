"""EC2 API model for the ipamd simulator: latencies, account-wide throttling and SDK retries.

:class:`Ec2Api` wraps an :class:`~cnisim.sim.subnet.AddressSpace` and offers one method per
operation ipamd performs. Each method takes the simulated time ``now_s`` at which ipamd issues it
and returns an :class:`Ec2Result` with the completion time ``done_s``, the addresses (``uint32``)
and an error code. Addresses leave the subnet when the operation is issued and return to it when
a release is issued; only ``done_s`` carries the delay.

Calls made per operation (aws/amazon-vpc-cni-k8s ``pkg/awsutils/awsutils.go``, serial):

- add IPs or prefixes to an ENI: AssignPrivateIpAddresses;
- release IPs or prefixes: UnassignPrivateIpAddresses;
- create and attach an ENI (AllocENI): DescribeSubnets (with subnet discovery it sorts the
  candidate subnets by AvailableIpAddressCount, most first, and CreateNetworkInterface is
  tried in each until one succeeds; see :meth:`Ec2Api.create_and_attach_eni` for the number
  of DescribeSubnets calls in each mode), CreateNetworkInterface (with the secondary IPs or
  prefixes), then DescribeInstances (free device index), AttachNetworkInterface,
  ModifyNetworkInterfaceAttribute (DeleteOnTermination), setupENI's DescribeSubnets with
  subnet discovery, then ipamd polls instance metadata until the ENI and its addresses show
  up (waitForENIAndIPsAttached: first retry after 0.1 s, doubling, plus 0-15 % jitter, each
  sleep capped at 60 s, at most 12 polls; ``pkg/utils/retry/backoff.go`` SimpleBackoff).
  The ENI is visible after a lognormal delay; the operation completes at the first poll at or
  after it. If the attach or the modify fails, ipamd deletes the new ENI again
  (DeleteNetworkInterface);
- free an ENI (freeENI): DescribeNetworkInterfaces (attachment id), DetachNetworkInterface, a
  2 s sleep, DeleteNetworkInterface.

Calls the VPC resource controller makes for security groups for pods (not ipamd;
aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/trunk/trunk.go``):

- a branch ENI for a pod (CreateAndAssociateBranchENIs): CreateNetworkInterface (one IP, the
  ENI's primary, in the trunk's subnet), then AssociateTrunkInterface (branch to trunk, with a
  VLAN id). If the association fails, the new ENI is deleted (DeleteNetworkInterface);
- delete a branch ENI (deleteENI): DisassociateTrunkInterface, then DeleteNetworkInterface.

Throttling (Amazon EC2 Developer Guide, "Request throttling for the Amazon EC2 API"): EC2 keeps a
token bucket per API action per account and Region; each request takes one token; buckets refill
at a fixed rate up to their capacity; a request that finds its bucket empty gets
``RequestLimitExceeded``. Defaults: AssignPrivateIpAddresses, UnassignPrivateIpAddresses,
CreateNetworkInterface, DeleteNetworkInterface and ModifyNetworkInterfaceAttribute 100 tokens,
5 per s (their own rows in the guide's "uncategorized actions" table); AttachNetworkInterface and
DetachNetworkInterface ("mutating actions") 50, 5 per s, and so AssociateTrunkInterface and
DisassociateTrunkInterface, which the guide does not list on their own rows; DescribeSubnets
("non-mutating actions") 100, 20 per s; DescribeInstances and DescribeNetworkInterfaces as
ipamd calls them, with instance or ENI ids but no filter and no pagination ("unfiltered and
unpaginated non-mutating actions") 50, 10 per s.

Retries: ipamd's EC2 client is the AWS SDK for Go v2 standard retryer with
``RetryMaxAttempts = 10`` (aws/amazon-vpc-cni-k8s ``pkg/awsutils/awssession/session.go``). Its
back-off before retry ``i`` (1-based) is ``U[0, 1) * 2**i`` s while ``2**i`` is below the 20 s
cap, and exactly 20 s after that (aws/aws-sdk-go-v2 ``aws/retry/jitter_backoff.go``,
ExponentialJitterBackoff; ``aws/retry/standard.go`` DefaultMaxBackoff). A throttled attempt
costs no simulated time of its own; the operation fails with ``RequestLimitExceeded`` after the
last attempt. The retryer also keeps a client-side retry quota per client, i.e. per node
(``ratelimit.NewTokenRateLimit(500)``): each retry costs 5 tokens, each successful attempt
gives 1 back and a successful retry also refunds its 5; a retry that finds fewer than 5 tokens
is not made and the call fails at once (QuotaExceededError around the RequestLimitExceeded;
reported here as ``RequestLimitExceeded`` and counted in ``n_retry_quota_exhausted_by_action``).
The 2026 retry behaviour of the SDKs is gated by ``AWS_NEW_RETRIES_2026``, which aws-node does
not set, so the formulas above apply.

Latency: each successful attempt of an action takes a lognormal time (median, sigma, capped at
``max_s``). Defaults put "IPs or a prefix on an existing ENI" at a median of 0.3 s with about
99 % under a second, and "create and attach ENI" (sum of five calls plus the instance-metadata
polls) at a median of about 4.7 s with 99 % under 9 s (aws/amazon-vpc-cni-k8s
``docs/eni-and-ip-target.md``: a new ENI "can take up to 10 seconds"; aws/aws-eks-best-practices
``content/networking/prefix-mode/index_linux.md``: a prefix is "typically under a second").
A lognormal was chosen because API latencies are positive and right-skewed; the cap keeps a
sample from exceeding what the docs report.

Simplifications, stated:

- Buckets are evaluated at each attempt's own time. Operations are simulated whole when issued,
  so an attempt late in time (``now_s`` + latencies + back-offs) takes its token before calls
  that other nodes issue at earlier times in later ticks; those earlier calls then see the
  bucket's level minus the refill still to come (never tokens from the future), which slightly
  favours the operation simulated first.
- ipamd's own extra retry loops around Detach/Delete are not modelled (a Detach/Delete that
  exhausts its SDK attempts just reports the error).
- A release (unassign or free ENI) returns its addresses to the subnet when issued, even if its
  calls end in ``RequestLimitExceeded`` (ipamd's reconcile and leaked-ENI cleanup would return
  them later in reality).
- Launching and terminating an instance (by an autoscaler, not ipamd) cost no ipamd API calls;
  they take and return the primary ENI's addresses with no delay (branch ENIs included: the
  controller's later clean-up of a gone node's branch ENIs is not modelled).
- The VPC resource controller's calls go through its own SDK client (one for all nodes):
  ``controller_max_attempts`` attempts (its ``MaxRetries`` 3, ``pkg/aws/ec2/api/wrapper.go``)
  and one retry quota for the whole controller; that client's own rate limiter (12 requests
  per s, burst 18, ``main.go``) is not modelled.

References
----------
Amazon EC2 Developer Guide, "Request throttling for the Amazon EC2 API";
aws/amazon-vpc-cni-k8s ``pkg/awsutils/awsutils.go`` (AllocENI, attachENI, createENI,
GetVpcSubnets, freeENI), ``pkg/awsutils/awssession/session.go``;
aws/aws-sdk-go-v2 ``aws/retry``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from cnisim.errors import UsageError
from cnisim.sim.subnet import AddressArray, AddressSpace, InsufficientAddressesError

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_LATENCIES",
    "REQUEST_LIMIT_EXCEEDED",
    "ApiAction",
    "Bucket",
    "Ec2Api",
    "Ec2ErrorCode",
    "Ec2Params",
    "Ec2Result",
    "Latency",
    "UnknownEniError",
]

ApiAction = Literal[
    "AssignPrivateIpAddresses",
    "UnassignPrivateIpAddresses",
    "CreateNetworkInterface",
    "DeleteNetworkInterface",
    "ModifyNetworkInterfaceAttribute",
    "AttachNetworkInterface",
    "DetachNetworkInterface",
    "AssociateTrunkInterface",
    "DisassociateTrunkInterface",
    "DescribeSubnets",
    "DescribeNetworkInterfaces",
    "DescribeInstances",
]
Ec2ErrorCode = Literal[
    "InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks", "RequestLimitExceeded"
]
REQUEST_LIMIT_EXCEEDED: Final[Literal["RequestLimitExceeded"]] = "RequestLimitExceeded"
_CONTROLLER: Final = -1  # client id of the VPC resource controller (instance ids are >= 0)


@dataclass(frozen=True)
class Latency:
    """Lognormal latency of one successful API attempt.

    Attributes
    ----------
    median_s
        Median [s].
    sigma
        Standard deviation of the log [-].
    max_s
        Upper cap on a sample [s].
    """

    median_s: float
    sigma: float
    max_s: float


@dataclass(frozen=True)
class Bucket:
    """EC2 request token bucket of one API action (account-wide, per Region).

    Attributes
    ----------
    capacity
        Maximum tokens (burst) [requests].
    refill_per_s
        Tokens added per second [requests/s].
    """

    capacity: float
    refill_per_s: float


DEFAULT_BUCKETS: Final[Mapping[str, Bucket]] = MappingProxyType(
    {
        # Amazon EC2 Developer Guide, "Request throttling for the Amazon EC2 API", request token
        # bucket sizes and refill rates (per account per Region).
        "AssignPrivateIpAddresses": Bucket(100, 5),
        "UnassignPrivateIpAddresses": Bucket(100, 5),
        "CreateNetworkInterface": Bucket(100, 5),
        "DeleteNetworkInterface": Bucket(100, 5),
        "ModifyNetworkInterfaceAttribute": Bucket(100, 5),
        "AttachNetworkInterface": Bucket(50, 5),
        "DetachNetworkInterface": Bucket(50, 5),
        # Not on a row of their own in the guide, so in its "mutating actions" bucket.
        "AssociateTrunkInterface": Bucket(50, 5),
        "DisassociateTrunkInterface": Bucket(50, 5),
        "DescribeSubnets": Bucket(100, 20),
        # ipamd passes ID lists, neither a filter nor pagination, to these two, which the guide
        # lists among the "unfiltered and unpaginated non-mutating actions" (50, 10 per s).
        "DescribeNetworkInterfaces": Bucket(50, 10),
        "DescribeInstances": Bucket(50, 10),
    }
)

DEFAULT_LATENCIES: Final[Mapping[str, Latency]] = MappingProxyType(
    {
        "AssignPrivateIpAddresses": Latency(0.3, 0.5, 2.0),
        "UnassignPrivateIpAddresses": Latency(0.3, 0.5, 2.0),
        "CreateNetworkInterface": Latency(0.5, 0.4, 3.0),
        "DeleteNetworkInterface": Latency(0.3, 0.4, 2.0),
        "ModifyNetworkInterfaceAttribute": Latency(0.2, 0.4, 2.0),
        "AttachNetworkInterface": Latency(0.5, 0.4, 3.0),
        "DetachNetworkInterface": Latency(0.5, 0.4, 3.0),
        "AssociateTrunkInterface": Latency(0.5, 0.4, 3.0),
        "DisassociateTrunkInterface": Latency(0.5, 0.4, 3.0),
        "DescribeSubnets": Latency(0.1, 0.4, 1.0),
        "DescribeNetworkInterfaces": Latency(0.1, 0.4, 1.0),
        "DescribeInstances": Latency(0.1, 0.4, 1.0),
    }
)


@dataclass(frozen=True)
class Ec2Params:
    """Parameters of the EC2 model.

    Attributes
    ----------
    latencies
        Latency of a successful attempt, by API action (stored read-only).
    eni_ready_latency
        From a successful ModifyNetworkInterfaceAttribute to the ENI and its addresses being
        visible in instance metadata [s]; ipamd sees them at its next poll.
    imds_first_poll_s, imds_max_poll_s, imds_poll_jitter_frac, imds_max_polls
        ipamd's metadata polling (waitForENIAndIPsAttached): first sleep [s], sleep cap [s],
        jitter added as a fraction of each sleep [-], and number of polls.
    detach_sleep_s
        ipamd's sleep between DetachNetworkInterface and DeleteNetworkInterface [s]
        (aws/amazon-vpc-cni-k8s ``pkg/awsutils/awsutils.go`` FreeENI: 2 s).
    buckets
        Request token bucket by API action (stored read-only).
    max_attempts
        SDK attempts per call, first included (ipamd: ``RetryMaxAttempts`` 10).
    controller_max_attempts
        The same for the VPC resource controller's branch ENI calls (its ``MaxRetries`` 3).
    max_backoff_s
        SDK back-off cap [s] (AWS SDK for Go v2 standard retryer: 20 s).
    retry_quota_tokens
        Client-side retry quota per node [tokens] (SDK for Go v2 DefaultRetryRateTokens 500);
        ``None`` disables it (``ratelimit.None``).
    retry_cost
        Tokens one retry costs (DefaultRetryCost 5).
    no_retry_increment
        Tokens a successful attempt gives back (DefaultNoRetryIncrement 1).
    """

    latencies: Mapping[str, Latency] = field(default_factory=lambda: DEFAULT_LATENCIES)
    eni_ready_latency: Latency = Latency(2.0, 0.4, 8.0)
    imds_first_poll_s: float = 0.1
    imds_max_poll_s: float = 60.0
    imds_poll_jitter_frac: float = 0.15
    imds_max_polls: int = 12
    detach_sleep_s: float = 2.0
    buckets: Mapping[str, Bucket] = field(default_factory=lambda: DEFAULT_BUCKETS)
    max_attempts: int = 10
    controller_max_attempts: int = 3
    max_backoff_s: float = 20.0
    retry_quota_tokens: int | None = 500
    retry_cost: int = 5
    no_retry_increment: int = 1

    def __post_init__(self) -> None:
        missing = sorted(set(DEFAULT_BUCKETS) - set(self.buckets))
        missing += sorted(set(DEFAULT_LATENCIES) - set(self.latencies))
        if missing:
            raise UsageError(
                f"EC2 parameters lack {', '.join(missing)}; give a bucket and a latency "
                "for every API action"
            )
        if min(self.max_attempts, self.controller_max_attempts) < 1:
            raise UsageError(
                f"max_attempts is {self.max_attempts} and controller_max_attempts is "
                f"{self.controller_max_attempts}; each must be at least 1"
            )
        for name, latency in [*self.latencies.items(), ("eni_ready", self.eni_ready_latency)]:
            if not 0 < latency.median_s <= latency.max_s or latency.sigma < 0:
                raise UsageError(
                    f"latency of {name} is {latency}; need 0 < median_s <= max_s and sigma >= 0"
                )
        if (self.retry_quota_tokens or 0) < 0 or self.retry_cost < 0 or self.no_retry_increment < 0:
            raise UsageError("retry quota settings must be >= 0 (retry_quota_tokens None: off)")
        if self.imds_first_poll_s <= 0 or self.imds_max_polls < 1:
            raise UsageError("IMDS polling needs imds_first_poll_s > 0 and imds_max_polls >= 1")
        for name, bucket in self.buckets.items():
            if bucket.capacity < 0 or bucket.refill_per_s < 0:
                raise UsageError(f"bucket of {name} is {bucket}; sizes and rates must be >= 0")
        # Freeze the mappings, so that parameters cannot change under a running simulation.
        object.__setattr__(self, "latencies", MappingProxyType(dict(self.latencies)))
        object.__setattr__(self, "buckets", MappingProxyType(dict(self.buckets)))


@dataclass(frozen=True)
class Ec2Result:
    """Outcome of one ipamd operation.

    Attributes
    ----------
    done_s
        Simulated time the operation completes, back-offs included [s].
    error
        ``None`` or the EC2 error code that ended it.
    addresses
        As uint32: the secondary IPs or prefix bases added (assign, create ENI) or released
        (unassign); for ``free_eni`` and ``terminate_instance``, every /32 returned to the
        subnets, primary IPs and all 16 addresses of each prefix included.
    eni_id
        ENI concerned (new ENI for a create), ``None`` if none was created.
    primary_ip
        Primary IP of a new ENI (uint32 int), else ``None``.
    instance_id
        Instance concerned, when the operation has one.
    n_throttled
        Attempts of this operation that got ``RequestLimitExceeded``.
    subnet_id
        Subnet of the ENI concerned (for a create, where the ENI went or, on failure, the
        last subnet tried), else ``None``.
    """

    done_s: float
    error: Ec2ErrorCode | None = None
    addresses: AddressArray = field(default_factory=lambda: np.empty(0, dtype=np.uint32))
    eni_id: int | None = None
    primary_ip: int | None = None
    instance_id: int | None = None
    n_throttled: int = 0
    subnet_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.error is None


class UnknownEniError(UsageError):
    """An operation named an ENI or instance that the EC2 model does not know."""


@dataclass
class _Eni:
    subnet_id: str
    instance_id: int
    primary_ip: int
    freeable: bool
    """False for an instance's primary ENI, the trunk ENI and branch ENIs: ipamd frees none."""
    is_branch: bool = False


class _TokenBucket:
    """Token bucket refilled by simulated time, tolerant of requests out of time order.

    The bucket keeps its level at the latest time it has seen. A request at that time or later
    refills first (up to capacity). A request at an earlier time ``t_s`` (an operation simulated
    whole may already have made calls later in time) sees the level minus the refill still to
    come between ``t_s`` and the latest time, so it never spends tokens that were not yet there.
    """

    def __init__(self, spec: Bucket) -> None:
        self.capacity = spec.capacity
        self.refill_per_s = spec.refill_per_s
        self.n_tokens = spec.capacity
        self.last_s = -math.inf

    def try_take(self, t_s: float) -> bool:
        if t_s >= self.last_s:
            if self.last_s > -math.inf:
                elapsed_s = t_s - self.last_s
                self.n_tokens = min(self.capacity, self.n_tokens + elapsed_s * self.refill_per_s)
            self.last_s = t_s
            n_available = self.n_tokens
        else:
            n_available = self.n_tokens - (self.last_s - t_s) * self.refill_per_s
        if n_available >= 1.0:
            self.n_tokens -= 1.0
            return True
        return False


class Ec2Api:
    """Simulated EC2 API as ipamd sees it.

    Parameters
    ----------
    space
        Address space the ENIs draw from.
    params
        Latencies, buckets and retry settings.
    rng
        Source of latency and back-off draws (the run's ``ec2_rng``).

    Notes
    -----
    Draw order, fixed so that equal call sequences give equal results: per attempt, a throttled
    attempt draws its back-off (``rng.random()``) unless the back-off is at its cap; a
    successful attempt draws its latency (``rng.standard_normal()``). A created ENI then draws
    its visibility delay (``rng.standard_normal()``) and one jitter (``rng.random()``) per
    metadata poll sleep. Address choices are drawn by the :class:`AddressSpace` from its own
    rng, when the call that takes them succeeds.

    Examples
    --------
    >>> space = AddressSpace(rng=np.random.default_rng(0))
    >>> space.add_subnet("subnet-a", "10.0.0.0/24")
    >>> ec2 = Ec2Api(space, Ec2Params(), rng=np.random.default_rng(1))
    >>> node = ec2.launch_instance(0.0, "subnet-a")
    >>> ec2.assign_private_ips(0.0, node.eni_id, 9).addresses.size
    9
    >>> space.available_ip_address_count("subnet-a")  # 251 - node IP - 9
    241
    """

    def __init__(self, space: AddressSpace, params: Ec2Params, rng: np.random.Generator) -> None:
        self.space = space
        self.params = params
        self._rng = rng
        self._buckets = {action: _TokenBucket(spec) for action, spec in params.buckets.items()}
        self._enis: dict[int, _Eni] = {}
        self._instances: dict[int, list[int]] = {}
        self._branches: dict[int, list[int]] = {}  # instance -> its branch ENIs
        self._next_instance_id = 0
        self.n_calls_by_action: Counter[str] = Counter()
        """HTTP requests EC2 received, by action: every attempt, retries included."""
        self.n_sdk_calls_by_action: Counter[str] = Counter()
        """SDK calls by action, one however many attempts (ipamd's ``ec2ApiReq`` metric)."""
        self.n_throttled_by_action: Counter[str] = Counter()
        """Attempts answered ``RequestLimitExceeded``, by action."""
        self.n_errors_by_code: Counter[str] = Counter()
        """Operations that ended in an error, by error code."""
        self.n_retry_quota_exhausted_by_action: Counter[str] = Counter()
        """Calls that stopped retrying early because their node's retry quota ran out."""
        self._retry_quota: dict[int, int] = {}
        self._log_t_s: list[float] = []
        self._log_action: list[str] = []
        self._log_throttled: list[bool] = []

    # ------------------------------------------------------------------ instances
    def launch_instance(self, now_s: float, subnet_id: str) -> Ec2Result:
        """Start an instance: its primary ENI gets a primary IP (the node IP) in ``subnet_id``.

        Costs no ipamd API call and no time. Fails with ``InsufficientFreeAddressesInSubnet``
        when the subnet has no address to give (the instance then has no ENI).
        """
        instance_id = self._next_instance_id
        self._next_instance_id += 1
        self._instances[instance_id] = []
        return self._add_eni_without_calls(now_s, instance_id, subnet_id)

    def terminate_instance(self, now_s: float, instance_id: int) -> Ec2Result:
        """Terminate an instance: every address of every ENI returns (DeleteOnTermination).

        Its branch ENIs (security groups for pods) return too. ``addresses`` of the result
        holds every address returned.
        """
        eni_ids = self._instances.pop(instance_id, None)
        if eni_ids is None:
            raise UnknownEniError(f"unknown instance {instance_id}; launch it first")
        eni_ids += self._branches.pop(instance_id, [])
        released = [self._drop_eni(eni_id) for eni_id in eni_ids]
        addresses = np.sort(np.concatenate(released)) if released else np.empty(0, np.uint32)
        return Ec2Result(done_s=now_s, addresses=addresses, instance_id=instance_id)

    def attach_trunk_eni(self, now_s: float, instance_id: int, subnet_id: str) -> Ec2Result:
        """Attach the trunk ENI of security groups for pods: a primary IP, no pool addresses.

        The VPC resource controller makes this ENI, not ipamd, so no ipamd API call is counted
        and it takes no time. It is released with the instance.
        """
        if instance_id not in self._instances:
            raise UnknownEniError(f"unknown instance {instance_id}; launch it first")
        return self._add_eni_without_calls(now_s, instance_id, subnet_id)

    def create_branch_eni(self, now_s: float, instance_id: int, subnet_id: str) -> Ec2Result:
        """The VPC resource controller's branch ENI for one SGP pod: one IP, on the trunk.

        CreateNetworkInterface in ``subnet_id`` (the trunk's subnet), taking one address (the
        ENI's primary IP, the pod's IP), then AssociateTrunkInterface. If the association
        fails, the ENI is deleted again (DeleteNetworkInterface) and its address returns.

        Parameters
        ----------
        now_s
            Time the controller issues the operation [s].
        instance_id
            Instance whose trunk ENI takes the branch.
        subnet_id
            Subnet of the trunk ENI.

        Returns
        -------
        Ec2Result
            On success ``eni_id``, ``primary_ip`` and ``addresses`` (that one IP); on failure
            no address is held: ``InsufficientFreeAddressesInSubnet`` or
            ``RequestLimitExceeded``.

        References
        ----------
        aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/trunk/trunk.go``
        (CreateAndAssociateBranchENIs).
        """
        if instance_id not in self._instances:
            raise UnknownEniError(f"unknown instance {instance_id}; launch it first")
        t_s, ok, n_throttled = self._call("CreateNetworkInterface", now_s, _CONTROLLER)
        if not ok:
            return self._failed(t_s, REQUEST_LIMIT_EXCEEDED, instance_id, n_throttled, subnet_id)
        eni_id = self.space.new_owner_id()
        try:
            address = int(self.space.allocate_ips(subnet_id, 1, eni_id, "primary", now_s=t_s)[0])
        except InsufficientAddressesError as err:
            return self._failed(t_s, err.code, instance_id, n_throttled, subnet_id)
        t_s, ok, n = self._call("AssociateTrunkInterface", t_s, _CONTROLLER)
        n_throttled += n
        if not ok:
            self.space.release_owner(eni_id)
            t_s, _, n = self._call("DeleteNetworkInterface", t_s, _CONTROLLER)
            return self._failed(
                t_s, REQUEST_LIMIT_EXCEEDED, instance_id, n_throttled + n, subnet_id
            )
        self._enis[eni_id] = _Eni(subnet_id, instance_id, address, False, is_branch=True)
        self._branches.setdefault(instance_id, []).append(eni_id)
        return Ec2Result(
            done_s=t_s,
            addresses=np.array([address], dtype=np.uint32),
            eni_id=eni_id,
            primary_ip=address,
            instance_id=instance_id,
            n_throttled=n_throttled,
            subnet_id=subnet_id,
        )

    def delete_branch_eni(self, now_s: float, eni_id: int) -> Ec2Result:
        """Delete a branch ENI (after its cool-down): its IP returns to the subnet at once.

        Calls DisassociateTrunkInterface, then DeleteNetworkInterface (made even if the
        disassociation fails, as the controller does).

        References
        ----------
        aws/amazon-vpc-resource-controller-k8s ``pkg/provider/branch/trunk/trunk.go`` (deleteENI).
        """
        eni = self._eni(eni_id)
        if not eni.is_branch:
            raise UsageError(f"ENI {eni_id} is not a branch ENI; use free_eni or terminate")
        addresses = self._drop_eni(eni_id)
        self._branches[eni.instance_id].remove(eni_id)
        t_s, _, n_throttled = self._call("DisassociateTrunkInterface", now_s, _CONTROLLER)
        t_s, ok, n = self._call("DeleteNetworkInterface", t_s, _CONTROLLER)
        error: Ec2ErrorCode | None = None if ok else REQUEST_LIMIT_EXCEEDED
        if error:
            self.n_errors_by_code[error] += 1
        return Ec2Result(
            done_s=t_s,
            error=error,
            addresses=addresses,
            eni_id=eni_id,
            instance_id=eni.instance_id,
            n_throttled=n_throttled + n,
            subnet_id=eni.subnet_id,
        )

    # ------------------------------------------------------------------ IPs and prefixes
    def assign_private_ips(self, now_s: float, eni_id: int, n_ips: int) -> Ec2Result:
        """AssignPrivateIpAddresses with ``SecondaryPrivateIpAddressCount = n_ips``."""
        return self._assign(now_s, eni_id, n_ips, prefixes=False)

    def assign_prefixes(self, now_s: float, eni_id: int, n_prefixes: int) -> Ec2Result:
        """AssignPrivateIpAddresses with ``Ipv4PrefixCount = n_prefixes`` (/28 each)."""
        return self._assign(now_s, eni_id, n_prefixes, prefixes=True)

    def unassign_private_ips(
        self, now_s: float, eni_id: int, addresses: npt.ArrayLike
    ) -> Ec2Result:
        """UnassignPrivateIpAddresses of secondary IPs; they return to the subnet at once."""
        eni = self._eni(eni_id)
        self.space.release_ips(eni.subnet_id, addresses, eni_id)
        return self._release_call(now_s, eni_id, addresses)

    def unassign_prefixes(self, now_s: float, eni_id: int, bases: npt.ArrayLike) -> Ec2Result:
        """UnassignPrivateIpAddresses of /28 prefixes; they return to the subnet at once."""
        eni = self._eni(eni_id)
        self.space.release_prefixes(eni.subnet_id, bases, eni_id)
        return self._release_call(now_s, eni_id, bases)

    # ------------------------------------------------------------------ ENIs
    def create_and_attach_eni(
        self,
        now_s: float,
        instance_id: int,
        subnet_ids: str | Sequence[str],
        n_ips: int = 0,
        n_prefixes: int = 0,
        subnet_discovery: bool = True,
        custom_networking: bool = False,
    ) -> Ec2Result:
        """Create an ENI pre-loaded with ``n_ips`` secondary IPs or ``n_prefixes`` prefixes.

        DescribeSubnets calls, as ipamd makes them (``createENI``, then ``setupENI``):

        - subnet discovery, no custom networking: one call (GetVpcSubnets) whose answer
          orders the candidates by AvailableIpAddressCount, most first (stable on ties); if
          it fails, a second one (IsSubnetExcluded) and then the first candidate only (if
          that fails too, no ENI: ``RequestLimitExceeded``); after the attach, one more
          (setupENI's IsSubnetExcluded);
        - no subnet discovery: one call before the create (IsSubnetExcluded; a failure only
          logs), first candidate only;
        - custom networking: the ENIConfig subnet (first candidate), and one call after the
          attach if subnet discovery is on.

        setupENI's call is issued right after the attach (in ipamd it follows the metadata
        wait: issuing it seconds later would let it take its token before calls that other
        nodes make in between, see the bucket simplification above). A failed setupENI call
        is counted, but the ENI still enters the pool (as ipamd's reconcile would add it).

        Parameters
        ----------
        now_s
            Time ipamd issues the operation [s].
        instance_id
            Instance to attach to.
        subnet_ids
            Candidate subnets, the node's (or the ENIConfig subnet under custom networking)
            first; the others are tried only with subnet discovery.
        n_ips, n_prefixes
            Resources created with the ENI (at most one of them non-zero).
        subnet_discovery
            ENABLE_SUBNET_DISCOVERY.
        custom_networking
            AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG.

        Returns
        -------
        Ec2Result
            On success ``eni_id``, ``primary_ip`` and ``addresses`` (secondaries or prefix
            bases). On failure no address is held: an ``Insufficient*`` code from the last
            subnet tried, or ``RequestLimitExceeded``.

        References
        ----------
        aws/amazon-vpc-cni-k8s v1.23.1 ``pkg/awsutils/awsutils.go`` (createENI,
        GetVpcSubnets, IsSubnetExcluded), ``pkg/ipamd/ipamd.go`` (setupENI,
        excludedENIBasedOnSubnetTags).
        """
        if n_ips and n_prefixes:
            raise UsageError("an ENI is created with secondary IPs or prefixes, not both")
        if instance_id not in self._instances:
            raise UnknownEniError(f"unknown instance {instance_id}; launch it first")
        candidates = [subnet_ids] if isinstance(subnet_ids, str) else list(subnet_ids)
        if not candidates:
            raise UsageError("create_and_attach_eni needs at least one candidate subnet id")
        t_s = now_s
        n_throttled = 0
        discovery = subnet_discovery and not custom_networking
        if discovery:
            t_s, ok, n = self._call("DescribeSubnets", t_s, instance_id)
            n_throttled += n
            if ok:
                counts = [self.space.available_ip_address_count(s) for s in candidates]
                order = sorted(range(len(candidates)), key=lambda i: -counts[i])
                candidates = [candidates[i] for i in order]
            else:
                t_s, ok, n = self._call("DescribeSubnets", t_s, instance_id)
                n_throttled += n
                if not ok:
                    return self._failed(
                        t_s, REQUEST_LIMIT_EXCEEDED, instance_id, n_throttled, candidates[0]
                    )
                candidates = candidates[:1]
        else:
            if not custom_networking:
                t_s, _, n = self._call("DescribeSubnets", t_s, instance_id)
                n_throttled += n
            candidates = candidates[:1]

        error: Ec2ErrorCode | None = None
        for subnet_id in candidates:
            t_s, ok, n = self._call("CreateNetworkInterface", t_s, instance_id)
            n_throttled += n
            if not ok:
                error = REQUEST_LIMIT_EXCEEDED
                continue
            eni_id = self.space.new_owner_id()
            try:
                primary = self.space.allocate_ips(subnet_id, 1, eni_id, "primary", now_s=t_s)
                try:
                    if n_prefixes:
                        added = self.space.allocate_prefixes(
                            subnet_id, n_prefixes, eni_id, now_s=t_s
                        )
                    else:
                        added = self.space.allocate_ips(subnet_id, n_ips, eni_id, now_s=t_s)
                except InsufficientAddressesError:
                    self.space.release_owner(eni_id)
                    raise
            except InsufficientAddressesError as err:
                error = err.code
                continue
            self._enis[eni_id] = _Eni(subnet_id, instance_id, int(primary[0]), freeable=True)
            return self._attach(t_s, instance_id, eni_id, added, n_throttled, subnet_discovery)
        assert error is not None
        return self._failed(t_s, error, instance_id, n_throttled, candidates[-1])

    def free_eni(self, now_s: float, eni_id: int) -> Ec2Result:
        """Detach and delete a secondary ENI; all its addresses return to the subnet at once.

        Calls DescribeNetworkInterfaces, DetachNetworkInterface, sleeps ``detach_sleep_s``,
        then DeleteNetworkInterface.
        """
        eni = self._eni(eni_id)
        if not eni.freeable:
            raise UsageError(
                f"ENI {eni_id} is an instance's primary or trunk ENI; ipamd never frees it"
            )
        addresses = self._drop_eni(eni_id)
        self._instances[eni.instance_id].remove(eni_id)
        error: Ec2ErrorCode | None = None
        t_s, n_throttled = now_s, 0
        client = eni.instance_id
        t_s, ok, n = self._call("DescribeNetworkInterfaces", t_s, client)
        n_throttled += n
        if ok:
            t_s, ok, n = self._call("DetachNetworkInterface", t_s, client)
            n_throttled += n
        if ok:
            t_s += self.params.detach_sleep_s
            t_s, ok, n = self._call("DeleteNetworkInterface", t_s, client)
            n_throttled += n
        if not ok:
            error = REQUEST_LIMIT_EXCEEDED
            self.n_errors_by_code[error] += 1
        return Ec2Result(
            done_s=t_s,
            error=error,
            addresses=addresses,
            eni_id=eni_id,
            instance_id=eni.instance_id,
            n_throttled=n_throttled,
            subnet_id=eni.subnet_id,
        )

    # ------------------------------------------------------------------ plain calls
    def describe(
        self, now_s: float, action: ApiAction, instance_id: int | None = None
    ) -> Ec2Result:
        """One read-only call (``DescribeSubnets``, ``DescribeNetworkInterfaces``, ...).

        For calls ipamd makes outside the operations above, such as its reconcile loop. With
        ``instance_id`` the call uses that node's retry quota; without, it has none.
        """
        if not action.startswith("Describe"):
            raise UsageError(f"{action} is not a Describe* action; use its operation method")
        t_s, ok, n = self._call(action, now_s, instance_id)
        error: Ec2ErrorCode | None = None if ok else REQUEST_LIMIT_EXCEEDED
        if error:
            self.n_errors_by_code[error] += 1
        return Ec2Result(done_s=t_s, error=error, n_throttled=n)

    # ------------------------------------------------------------------ queries
    def attempt_log(self) -> dict[str, npt.NDArray[Any]]:
        """Every request EC2 received, in the order simulated: columns for a DataFrame.

        Returns
        -------
        dict
            ``t_s`` (float, time of the attempt [s]), ``action`` (str) and ``throttled``
            (bool, answered ``RequestLimitExceeded``).
        """
        return {
            "t_s": np.array(self._log_t_s, dtype=float),
            "action": np.array(self._log_action, dtype=str),
            "throttled": np.array(self._log_throttled, dtype=bool),
        }

    def retry_quota_left(self, instance_id: int) -> int:
        """Tokens left in the retry quota of a node's EC2 client (full until first used)."""
        return self._retry_quota.get(instance_id, self.params.retry_quota_tokens or 0)

    def enis_of(self, instance_id: int) -> list[int]:
        """ENI ids of an instance, primary first, then in attach order (no branch ENIs)."""
        return list(self._instances.get(instance_id, []))

    def branch_enis_of(self, instance_id: int) -> list[int]:
        """Branch ENI ids of an instance, in creation order."""
        return list(self._branches.get(instance_id, []))

    def subnet_of(self, eni_id: int) -> str:
        """Subnet id of an ENI."""
        return self._eni(eni_id).subnet_id

    def primary_ip_of(self, eni_id: int) -> int:
        """Primary IP of an ENI (uint32 int)."""
        return self._eni(eni_id).primary_ip

    # ------------------------------------------------------------------ internals
    def _eni(self, eni_id: int) -> _Eni:
        try:
            return self._enis[eni_id]
        except KeyError:
            raise UnknownEniError(f"unknown ENI {eni_id}; create it first") from None

    def _add_eni_without_calls(self, now_s: float, instance_id: int, subnet_id: str) -> Ec2Result:
        eni_id = self.space.new_owner_id()
        try:
            primary = self.space.allocate_ips(subnet_id, 1, eni_id, "primary", now_s=now_s)
        except InsufficientAddressesError as err:
            self.n_errors_by_code[err.code] += 1
            return Ec2Result(
                done_s=now_s, error=err.code, instance_id=instance_id, subnet_id=subnet_id
            )
        self._enis[eni_id] = _Eni(subnet_id, instance_id, int(primary[0]), freeable=False)
        self._instances[instance_id].append(eni_id)
        return Ec2Result(
            done_s=now_s,
            eni_id=eni_id,
            primary_ip=int(primary[0]),
            instance_id=instance_id,
            subnet_id=subnet_id,
        )

    def _failed(
        self,
        t_s: float,
        error: Ec2ErrorCode,
        instance_id: int,
        n_throttled: int,
        subnet_id: str,
    ) -> Ec2Result:
        self.n_errors_by_code[error] += 1
        return Ec2Result(
            done_s=t_s,
            error=error,
            instance_id=instance_id,
            n_throttled=n_throttled,
            subnet_id=subnet_id,
        )

    def _drop_eni(self, eni_id: int) -> AddressArray:
        addresses = self.space.held_by(eni_id)
        self.space.release_owner(eni_id)
        del self._enis[eni_id]
        return addresses

    def _assign(self, now_s: float, eni_id: int, n: int, prefixes: bool) -> Ec2Result:
        eni = self._eni(eni_id)
        t_s, ok, n_throttled = self._call("AssignPrivateIpAddresses", now_s, eni.instance_id)
        if not ok:
            self.n_errors_by_code[REQUEST_LIMIT_EXCEEDED] += 1
            return Ec2Result(
                done_s=t_s,
                error=REQUEST_LIMIT_EXCEEDED,
                eni_id=eni_id,
                n_throttled=n_throttled,
                subnet_id=eni.subnet_id,
            )
        try:
            if prefixes:
                added = self.space.allocate_prefixes(eni.subnet_id, n, eni_id, now_s=t_s)
            else:
                added = self.space.allocate_ips(eni.subnet_id, n, eni_id, now_s=t_s)
        except InsufficientAddressesError as err:
            self.n_errors_by_code[err.code] += 1
            return Ec2Result(
                done_s=t_s,
                error=err.code,
                eni_id=eni_id,
                n_throttled=n_throttled,
                subnet_id=eni.subnet_id,
            )
        return Ec2Result(
            done_s=t_s,
            addresses=added,
            eni_id=eni_id,
            n_throttled=n_throttled,
            subnet_id=eni.subnet_id,
        )

    def _release_call(self, now_s: float, eni_id: int, addresses: npt.ArrayLike) -> Ec2Result:
        eni = self._eni(eni_id)
        subnet_id = eni.subnet_id
        t_s, ok, n_throttled = self._call("UnassignPrivateIpAddresses", now_s, eni.instance_id)
        error: Ec2ErrorCode | None = None if ok else REQUEST_LIMIT_EXCEEDED
        if error:
            self.n_errors_by_code[error] += 1
        return Ec2Result(
            done_s=t_s,
            error=error,
            addresses=np.sort(np.asarray(addresses, dtype=np.uint32)),
            eni_id=eni_id,
            n_throttled=n_throttled,
            subnet_id=subnet_id,
        )

    def _attach(
        self,
        t_s: float,
        instance_id: int,
        eni_id: int,
        added: AddressArray,
        n_throttled: int,
        setup_describe: bool,
    ) -> Ec2Result:
        """DescribeInstances, Attach, Modify, setupENI's DescribeSubnets, the metadata wait.

        The new ENI is deleted again when the attach or the modify fails.
        """
        subnet_id = self._enis[eni_id].subnet_id
        for action in (
            "DescribeInstances",
            "AttachNetworkInterface",
            "ModifyNetworkInterfaceAttribute",
        ):
            t_s, ok, n = self._call(action, t_s, instance_id)
            n_throttled += n
            if not ok:
                # ipamd deletes the new ENI when attaching or marking it fails (AllocENI).
                self._drop_eni(eni_id)
                t_s, _, n = self._call("DeleteNetworkInterface", t_s, instance_id)
                n_throttled += n
                self.n_errors_by_code[REQUEST_LIMIT_EXCEEDED] += 1
                return Ec2Result(
                    done_s=t_s,
                    error=REQUEST_LIMIT_EXCEEDED,
                    instance_id=instance_id,
                    n_throttled=n_throttled,
                    subnet_id=subnet_id,
                )
        if setup_describe:
            t_s, _, n = self._call("DescribeSubnets", t_s, instance_id)
            n_throttled += n
        t_s += self._imds_wait_s(self._draw_latency(self.params.eni_ready_latency))
        self._instances[instance_id].append(eni_id)
        return Ec2Result(
            done_s=t_s,
            addresses=added,
            eni_id=eni_id,
            primary_ip=self._enis[eni_id].primary_ip,
            instance_id=instance_id,
            n_throttled=n_throttled,
            subnet_id=subnet_id,
        )

    def _call(self, action: str, t_s: float, client: int | None) -> tuple[float, bool, int]:
        """One SDK call with retries: (time it returns [s], succeeded, throttled attempts).

        ``client`` is the instance whose aws-node makes the call (whose retry quota is used),
        or ``_CONTROLLER`` for the VPC resource controller's client.
        """
        params = self.params
        max_attempts = (
            params.controller_max_attempts if client == _CONTROLLER else params.max_attempts
        )
        bucket = self._buckets[action]
        quota_client = client if params.retry_quota_tokens is not None else None
        n_throttled = 0
        self.n_sdk_calls_by_action[action] += 1
        for attempt in range(1, max_attempts + 1):
            self.n_calls_by_action[action] += 1
            granted = bucket.try_take(t_s)
            self._log_t_s.append(t_s)
            self._log_action.append(action)
            self._log_throttled.append(not granted)
            if granted:
                if quota_client is not None:
                    # Every successful attempt adds 1; a successful retry also refunds its cost.
                    refund = params.no_retry_increment + (params.retry_cost if attempt > 1 else 0)
                    self._add_retry_quota(quota_client, refund)
                return t_s + self._draw_latency(params.latencies[action]), True, n_throttled
            n_throttled += 1
            self.n_throttled_by_action[action] += 1
            if attempt == max_attempts:
                break
            if quota_client is not None:
                if self.retry_quota_left(quota_client) < params.retry_cost:
                    self.n_retry_quota_exhausted_by_action[action] += 1
                    break
                self._add_retry_quota(quota_client, -params.retry_cost)
            t_s += self._backoff_s(attempt)
        return t_s, False, n_throttled

    def _add_retry_quota(self, client: int, n_tokens: int) -> None:
        cap = self.params.retry_quota_tokens or 0
        self._retry_quota[client] = min(cap, self.retry_quota_left(client) + n_tokens)

    def _backoff_s(self, attempt: int) -> float:
        """SDK for Go v2 ExponentialJitterBackoff before retry number ``attempt`` [s]."""
        if attempt > int(math.log2(self.params.max_backoff_s)):
            return self.params.max_backoff_s
        return float(self._rng.random()) * 2.0**attempt

    def _imds_wait_s(self, visible_after_s: float) -> float:
        """Time until ipamd's poll sees an ENI that becomes visible after ``visible_after_s``.

        Polls at 0, then after sleeps of ``first * 2**k`` (capped) plus a jitter drawn
        uniformly in ``[0, jitter_frac * sleep)``, one draw per sleep. If the last poll is
        still too early ipamd gives up; the model then returns that last poll's time (the
        addresses enter the pool anyway, as the next reconcile would add them).
        """
        params = self.params
        poll_s = 0.0
        sleep_s = params.imds_first_poll_s
        for _ in range(params.imds_max_polls - 1):
            if poll_s >= visible_after_s:
                break
            poll_s += sleep_s * (1.0 + params.imds_poll_jitter_frac * float(self._rng.random()))
            sleep_s = min(params.imds_max_poll_s, 2.0 * sleep_s)
        return poll_s

    def _draw_latency(self, latency: Latency) -> float:
        sample_s = latency.median_s * math.exp(latency.sigma * float(self._rng.standard_normal()))
        return min(sample_s, latency.max_s)

"""FreeSWITCH-only state held next to the protocol-neutral model: mod_callcenter agents and tiers, mod_hash, and the
few per-object details mod_conference and mod_voicemail show that the model does not keep.

Callcenter tiers are mirrored into the model's queue members (agent name as interface, PJSIP/<user> as state
interface, On Break as paused, Logged Out as logged_in=False) so that model.queue_call can ring FreeSWITCH agents.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")
AGENT_STATES = ("Idle", "Waiting", "Receiving", "In a queue call")
TIER_STATES = ("Unknown", "No Answer", "Ready", "Offering", "Active Inbound", "Standby")


@dataclass
class Agent:
    name: str
    type: str = "callback"
    contact: str = ""
    status: str = "Logged Out"
    state: str = "Waiting"
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_offered_call: int = 0
    last_status_change: int = 0
    no_answer_count: int = 0
    calls_answered: int = 0
    talk_time: int = 0
    ready_time: int = 0
    external_calls_count: int = 0
    uuid: str = ""
    instance_id: str = "single_box"

    def row(self) -> str:
        return "|".join(str(x) for x in (
            self.name, self.instance_id, self.uuid, self.type, self.contact, self.status, self.state,
            self.max_no_answer, self.wrap_up_time, self.reject_delay_time, self.busy_delay_time,
            self.no_answer_delay_time, self.last_bridge_start, self.last_bridge_end, self.last_offered_call,
            self.last_status_change, self.no_answer_count, self.calls_answered, self.talk_time, self.ready_time,
            self.external_calls_count))

    @property
    def user(self) -> str:
        """The directory user the agent's contact rings (user/1001 -> 1001), else the name's user part."""
        contact = self.contact.split("]", 1)[-1]
        if contact.startswith("user/"):
            return contact[5:].split("@", 1)[0]
        return self.name.split("@", 1)[0]


AGENT_FIELDS = ("name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|"
                "busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|"
                "last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count")
TIER_FIELDS = "queue|agent|state|level|position"
MEMBER_FIELDS = ("queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|"
                 "bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score")
QUEUE_FIELDS = ("name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|"
                "tier_rule_wait_multiply_level|tier_rule_no_agent_no_wait|discard_abandoned_after|"
                "abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|"
                "max_wait_time_with_no_agent_time_reached|record_template|calls_answered|calls_abandoned|"
                "ring_progressively_delay|skip_agents_with_external_calls|agent_no_answer_status")


@dataclass
class Tier:
    queue: str
    agent: str
    state: str = "Ready"
    level: int = 1
    position: int = 1


@dataclass
class QueueMemberRow:
    """A caller waiting in (or being served by) a callcenter queue."""

    queue: str
    uuid: str
    session_uuid: str
    cid_number: str
    cid_name: str
    joined: int
    bridge: int = 0
    serving_agent: str = ""
    state: str = "Waiting"
    offered: tuple[str, Any] | None = None    # (agent name, agent channel) once an agent is rung


@dataclass
class FsState:
    """Everything the ESL side shows that has no place in the model."""

    model: Any
    agents: dict[str, Agent] = field(default_factory=dict)
    tiers: list[Tier] = field(default_factory=list)
    cc_members: dict[str, QueueMemberRow] = field(default_factory=dict)   # by caller channel uuid
    hash: dict[str, str] = field(default_factory=dict)                   # "realm/key" -> value
    deaf: set[str] = field(default_factory=set)                          # channel uniqueids made deaf
    read_epoch: dict[str, int] = field(default_factory=dict)             # voicemail message uuid -> read time
    mwi_reason: str | None = None
    originating: bool = False                                            # inside api originate
    originate_vars: dict[str, str] = field(default_factory=dict)         # its {var=value} list
    vm_suffix: dict[str, str] = field(default_factory=dict)             # message uuid -> file name suffix
    vm_pending_suffix: str = ""                                           # for the message vm_inject is leaving
    sessions_since_start: int = 0
    peak_sessions: int = 0
    calls_in: int = 0
    calls_out: int = 0

    def seed_lab(self) -> None:
        """The recordings' callcenter.conf: agent 1001@default on queue support@default, logged out."""
        queues = getattr(self.model, "queues", {})
        if "support@default" not in queues or self.agents:
            return
        self.agents["1001@default"] = Agent("1001@default", contact="[leg_timeout=15]user/1001",
                                            last_status_change=int(time.time()))
        self.tier_add("support@default", "1001@default", 1, 1)

    # -- agents and tiers, mirrored into model queue members

    def _member(self, queue: str, agent: str) -> Any:
        q = self.model.queues.get(queue)
        return q.members.get(agent) if q is not None else None

    def tier_add(self, queue: str, agent: str, level: int, position: int) -> None:
        self.tiers.append(Tier(queue, agent, "Ready", level, position))
        ag = self.agents.get(agent)
        q = self.model.queues.get(queue)
        if ag is not None and q is not None and agent not in q.members:
            self.model.queue_add(queue, agent, name=agent, penalty=level, paused=ag.status == "On Break",
                                 state_interface=f"PJSIP/{ag.user}")
            self.sync_agent(ag)

    def tier_del(self, queue: str, agent: str) -> bool:
        before = len(self.tiers)
        self.tiers = [t for t in self.tiers if not (t.queue == queue and t.agent == agent)]
        if self._member(queue, agent) is not None:
            self.model.queue_remove(queue, agent)
        return len(self.tiers) != before

    def agent_del(self, name: str) -> None:
        for t in [t for t in self.tiers if t.agent == name]:
            self.tier_del(t.queue, t.agent)
        self.agents.pop(name, None)

    def sync_agent(self, ag: Agent) -> None:
        """Push the agent's status into its model queue members (paused / logged in)."""
        from ..model import QueueMemberChanged
        for t in self.tiers:
            if t.agent != ag.name:
                continue
            q = self.model.queues.get(t.queue)
            mem = q.members.get(ag.name) if q is not None else None
            if mem is None:
                continue
            paused = ag.status == "On Break"
            logged_in = ag.status != "Logged Out"
            if mem.paused != paused:
                self.model.queue_pause(ag.name, paused, reason="On Break" if paused else "", queue=t.queue)
            if mem.logged_in != logged_in:
                mem.logged_in = logged_in
                self.model.publish(QueueMemberChanged(q, mem, "status"))
            mem.state_interface = f"PJSIP/{ag.user}"

    def agent_for_member(self, interface: str) -> Agent | None:
        return self.agents.get(interface)

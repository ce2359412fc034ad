"""The ledger's actions: every entry names one of these, and nothing else.
An action is ``noun:verb``: what was touched and what happened to it. The ledger refuses an
entry whose action is not listed here, and a test fails on any action spelt as a bare string
in the code, so the auditor's list of actions is the whole list. Each has a plain label for
the auditor's pages.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerAction(StrEnum):
    ACCESS_DENIED = "access:denied"
    AGENCY_CREATED = "agency:created"
    AGENCY_DISABLED = "agency:disabled"
    AGENCY_ENABLED = "agency:enabled"
    AGENCY_UPDATED = "agency:updated"
    AGENDA_CASE_ADDED = "agenda:case_added"
    AGENDA_CASE_DEFERRED = "agenda:case_deferred"
    AGENDA_CASE_REMOVED = "agenda:case_removed"
    AGENDA_CIRCULATED = "agenda:circulated"
    AGENDA_REORDERED = "agenda:reordered"
    AGENDA_VIEWED = "agenda:viewed"
    API_CLIENT_CREATED = "api_client:created"
    API_CLIENT_DISABLED = "api_client:disabled"
    API_CLIENT_ENABLED = "api_client:enabled"
    APPROVALS_LISTED = "approvals:listed"
    AREA_CREATED = "area:created"
    AREA_HISTORY_IMPORTED = "area:history_imported"
    AREA_RISK_SETTINGS_CHANGED = "area:risk_settings_changed"
    CASE_API_READ = "case:api_read"
    CASE_LISTED = "case:listed"
    CASE_SEARCHED = "case:searched"
    CASE_VIEWED = "case:viewed"
    CASE_TEAM_ADDED = "case_team:added"
    CASE_TEAM_OPENED = "case_team:opened"
    CONFLICT_WALL_ADDED = "conflict_wall:added"
    CONFLICT_WALL_OPENED = "conflict_wall:opened"
    CONSENT_API_OPENED = "consent:api_opened"
    CONSENT_API_READ = "consent:api_read"
    CONSENT_DRAFT_REPLACED = "consent:draft_replaced"
    CONSENT_OPENED = "consent:opened"
    CONSENT_RECORDED = "consent:recorded"
    CONSENT_VIEWED = "consent:viewed"
    CONSENT_WITHDRAWN = "consent:withdrawn"
    CREDENTIAL_PASSWORD_SET = "credential:password_set"  # noqa: S105 (an action, not a secret)
    CREDENTIAL_RESET_APPROVED = "credential:reset_approved"
    CREDENTIAL_RESET_REFUSED = "credential:reset_refused"
    CREDENTIAL_RESET_REQUESTED = "credential:reset_requested"
    CREDENTIAL_TOTP_ENROLLED = "credential:totp_enrolled"
    DECISION_APPROVED = "decision:approved"
    DECISION_DECIDED = "decision:decided"
    DECISION_REFUSED = "decision:refused"
    DECISION_REQUESTED = "decision:requested"
    IDENTITY_APPROVED = "identity:approved"
    IDENTITY_LINKED = "identity:linked"
    IDENTITY_REFUSED = "identity:refused"
    IDP_CREATED = "idp:created"
    IDP_DISABLED = "idp:disabled"
    IDP_ENABLED = "idp:enabled"
    IDP_REFRESHED = "idp:refreshed"
    IDP_UPDATED = "idp:updated"
    INBOX_LISTED = "inbox:listed"
    INVITATION_ACCEPTED = "invitation:accepted"
    INVITATION_CREATED = "invitation:created"
    LEDGER_CASE_REVIEWED = "ledger:case_reviewed"
    LEDGER_CSV_EXPORTED = "ledger:csv_exported"
    LEDGER_ENTRY_VIEWED = "ledger:entry_viewed"
    LEDGER_EXPORTED = "ledger:exported"
    LEDGER_REVEAL_REASON_READ = "ledger:reveal_reason_read"
    LEDGER_SEARCHED = "ledger:searched"
    MEETING_ACTION_AGREED = "meeting:action_agreed"
    MEETING_ACTION_REVIEWED = "meeting:action_reviewed"
    MEETING_AGENDA_VIEWED = "meeting:agenda_viewed"
    MEETING_ATTENDANCE_RECORDED = "meeting:attendance_recorded"
    MEETING_ATTENDANCE_REMOVED = "meeting:attendance_removed"
    MEETING_CASE_DISCUSSED = "meeting:case_discussed"
    MEETING_CASE_OPENED = "meeting:case_opened"
    MEETING_CASE_OUTCOME = "meeting:case_outcome"
    MEETING_CASE_REOPENED = "meeting:case_reopened"
    MEETING_CLOSED = "meeting:closed"
    MEETING_CONFIDENTIALITY_READ = "meeting:confidentiality_read"
    MEETING_DISCUSSION_SAVED = "meeting:discussion_saved"
    MEETING_INFORMATION_SHARED = "meeting:information_shared"
    MEETING_REVIEW_VIEWED = "meeting:review_viewed"
    MEETING_SCHEDULED = "meeting:scheduled"
    MEETING_WHEREABOUTS_EXCLUDED = "meeting:whereabouts_excluded"
    MEETING_WHEREABOUTS_INCLUDED = "meeting:whereabouts_included"
    MEMBER_APPROVED = "member:approved"
    MEMBER_CREATED = "member:created"
    MEMBER_DISABLED = "member:disabled"
    MEMBER_ENABLED = "member:enabled"
    MEMBER_MOVED = "member:moved"
    MEMBER_ROLES_CHANGED = "member:roles_changed"
    MEMBER_UPDATED = "member:updated"
    MINUTES_AMEND_VIEWED = "minutes:amend_viewed"
    MINUTES_AMENDED = "minutes:amended"
    MINUTES_APPROVED = "minutes:approved"
    MINUTES_DISTRIBUTED = "minutes:distributed"
    MINUTES_DOWNLOADED = "minutes:downloaded"
    MINUTES_RENDERED = "minutes:rendered"
    MINUTES_VIEWED = "minutes:viewed"
    NOTIFICATION_PREFERENCE_CHANGED = "notification_preference:changed"
    REFERRAL_ACCEPTED = "referral:accepted"
    REFERRAL_AGGRESSOR_OPENED = "referral:aggressor_opened"
    REFERRAL_CHECKED = "referral:checked"
    REFERRAL_CLOSED = "referral:closed"
    REFERRAL_DEFERRED = "referral:deferred"
    REFERRAL_DRAFT_CHANGED = "referral:draft_changed"
    REFERRAL_DRAFT_OPENED = "referral:draft_opened"
    REFERRAL_DRAFTED = "referral:drafted"
    REFERRAL_HEARD = "referral:heard"
    REFERRAL_PRIMARY_AGGRESSOR_NOTED = "referral:primary_aggressor_noted"
    REFERRAL_REJECTED = "referral:rejected"
    REFERRAL_REPEAT_ANSWERED = "referral:repeat_answered"
    REFERRAL_REPEAT_CANDIDATES_LISTED = "referral:repeat_candidates_listed"
    REFERRAL_REPEAT_CONFIRMED = "referral:repeat_confirmed"
    REFERRAL_REPEAT_DISMISSED = "referral:repeat_dismissed"
    REFERRAL_REPEAT_OPENED = "referral:repeat_opened"
    REFERRAL_SHARE_OPENED = "referral:share_opened"
    REFERRAL_SHARED = "referral:shared"
    REFERRAL_SUBMIT_OPENED = "referral:submit_opened"
    REFERRAL_SUBMITTED = "referral:submitted"
    REFERRAL_TRIAGED = "referral:triaged"
    RESEARCH_CASE_OPENED = "research:case_opened"
    RETENTION_CONFIRMED = "retention:confirmed"
    RETENTION_DESTROYED = "retention:destroyed"
    RETENTION_EXTENDED = "retention:extended"
    RETENTION_HOLD_LIFTED = "retention:hold_lifted"
    RETENTION_HOLD_SET = "retention:hold_set"
    RETENTION_POLICY_ADOPTED = "retention:policy_adopted"
    RETENTION_QUEUE_LISTED = "retention:queue_listed"
    RETENTION_QUEUED = "retention:queued"
    RETURN_CATEGORIES_CHANGED = "return:categories_changed"
    RETURN_CORRECTED = "return:corrected"
    RETURN_EXPORTED = "return:exported"
    RETURN_SETTINGS_CHANGED = "return:settings_changed"
    RETURN_SUBMITTED = "return:submitted"
    RETURN_VALIDATED = "return:validated"
    RESEARCH_SAVED = "research:saved"
    RESEARCH_SHARED = "research:shared"
    RESEARCH_VIEWED = "research:viewed"
    SAR_CASE_READ = "sar:case_read"
    SAR_CASE_RESTRICTED = "sar:case_restricted"
    SAR_CASE_RESTRICTION_LIFTED = "sar:case_restriction_lifted"
    SAR_EXTENDED = "sar:extended"
    SAR_IDENTITY_CHECKED = "sar:identity_checked"
    SAR_PERPETRATOR_REVIEWED = "sar:perpetrator_reviewed"
    SAR_PRODUCED = "sar:produced"
    SAR_RECEIVED = "sar:received"
    SAR_REDACTION_CHANGED = "sar:redaction_changed"
    SAR_REFUSED = "sar:refused"
    SAR_REVIEW_STARTED = "sar:review_started"
    SAR_SENT = "sar:sent"
    SAR_SUBJECT_CHOSEN = "sar:subject_chosen"
    SIGNIN_FAILED = "signin:failed"
    SIGNIN_REAUTHENTICATED = "signin:reauthenticated"
    SIGNIN_SUCCEEDED = "signin:succeeded"
    SIGNOUT_SUCCEEDED = "signout:succeeded"
    TASK_CREATED = "task:created"
    TASK_ESCALATED = "task:escalated"
    TASK_LISTED = "task:listed"
    TASK_NOTED = "task:noted"
    TASK_REASSIGNED = "task:reassigned"
    TASK_REMINDED = "task:reminded"
    TASK_RESOLVED = "task:resolved"
    TASK_TAKEN = "task:taken"
    TASK_UPDATED = "task:updated"
    TASK_VIEWED = "task:viewed"
    TODO_TEMPLATE_CHANGED = "todo_template:changed"
    TODO_TEMPLATE_CREATED = "todo_template:created"
    TRANSFER_ACCEPTED = "transfer:accepted"
    TRANSFER_ACKNOWLEDGED = "transfer:acknowledged"
    TRANSFER_DECLINED = "transfer:declined"
    TRANSFER_DELIVERY_FAILED = "transfer:delivery_failed"
    TRANSFER_HUB_ADMITTED = "transfer:hub_admitted"
    TRANSFER_PACKAGE_SEALED = "transfer:package_sealed"
    TRANSFER_PACK_RECEIVED = "transfer:pack_received"
    TRANSFER_PACK_DISCLOSED = "transfer:pack_disclosed"
    TRANSFER_PACK_READ = "transfer:pack_read"
    TRANSFER_RECEIPT_RECORDED = "transfer:receipt_recorded"
    TRANSFER_RECEIVED = "transfer:received"
    TRANSFER_REFUSED = "transfer:refused"
    TRANSFER_SENT = "transfer:sent"
    TRANSFER_STARTED = "transfer:started"
    WHEREABOUTS_REVEALED = "whereabouts:revealed"

    @property
    def label(self) -> str:
        return LABELS[self]


#: What each action means, in the words the auditor's pages use.
LABELS: dict[LedgerAction, str] = {
    LedgerAction.ACCESS_DENIED: "Access refused (a read or an action the gate refused)",
    LedgerAction.AGENCY_CREATED: "Agency: created",
    LedgerAction.AGENCY_DISABLED: "Agency: disabled",
    LedgerAction.AGENCY_ENABLED: "Agency: enabled",
    LedgerAction.AGENCY_UPDATED: "Agency: updated",
    LedgerAction.AGENDA_CASE_ADDED: "Agenda: case added",
    LedgerAction.AGENDA_CASE_DEFERRED: "Agenda: case deferred",
    LedgerAction.AGENDA_CASE_REMOVED: "Agenda: case removed",
    LedgerAction.AGENDA_CIRCULATED: "Agenda: circulated",
    LedgerAction.AGENDA_REORDERED: "Agenda: reordered",
    LedgerAction.AGENDA_VIEWED: "Agenda: viewed",
    LedgerAction.API_CLIENT_CREATED: "API client: created",
    LedgerAction.API_CLIENT_DISABLED: "API client: disabled",
    LedgerAction.API_CLIENT_ENABLED: "API client: enabled",
    LedgerAction.APPROVALS_LISTED: "Approvals: listed",
    LedgerAction.AREA_CREATED: "MARAC area: created",
    LedgerAction.AREA_HISTORY_IMPORTED: "MARAC area: its earlier meetings and cases imported",
    LedgerAction.AREA_RISK_SETTINGS_CHANGED: "MARAC area: risk settings changed",
    LedgerAction.CASE_API_READ: "Case read by a partner system through the API",
    LedgerAction.CASE_LISTED: "Case shown in a list",
    LedgerAction.CASE_SEARCHED: "Case found by a search",
    LedgerAction.CASE_VIEWED: "Case page read",
    LedgerAction.CASE_TEAM_ADDED: "Case team: added",
    LedgerAction.CASE_TEAM_OPENED: "Case team: opened",
    LedgerAction.CONFLICT_WALL_ADDED: "Conflict wall: added",
    LedgerAction.CONFLICT_WALL_OPENED: "Conflict wall: opened",
    LedgerAction.CONSENT_API_OPENED: "Case opened by a partner system to record consent",
    LedgerAction.CONSENT_API_READ: "Consent records read by a partner system",
    LedgerAction.CONSENT_DRAFT_REPLACED: "Consent on a draft referral replaced",
    LedgerAction.CONSENT_OPENED: "Consent: opened",
    LedgerAction.CONSENT_RECORDED: "Consent: recorded",
    LedgerAction.CONSENT_VIEWED: "Consent: viewed",
    LedgerAction.CONSENT_WITHDRAWN: "Consent: withdrawn",
    LedgerAction.CREDENTIAL_PASSWORD_SET: "Credentials: password set",
    LedgerAction.CREDENTIAL_RESET_APPROVED: "Credentials: reset approved",
    LedgerAction.CREDENTIAL_RESET_REFUSED: "Credentials: reset refused",
    LedgerAction.CREDENTIAL_RESET_REQUESTED: "Credentials: reset requested",
    LedgerAction.CREDENTIAL_TOTP_ENROLLED: "Credentials: totp enrolled",
    LedgerAction.DECISION_APPROVED: "Sharing without consent: approved",
    LedgerAction.DECISION_DECIDED: "Sharing without consent: decision opened",
    LedgerAction.DECISION_REFUSED: "Sharing without consent: refused",
    LedgerAction.DECISION_REQUESTED: "Sharing without consent: requested",
    LedgerAction.IDENTITY_APPROVED: "Sign-in identity: approved",
    LedgerAction.IDENTITY_LINKED: "Sign-in identity: linked",
    LedgerAction.IDENTITY_REFUSED: "Sign-in identity: refused",
    LedgerAction.IDP_CREATED: "Identity provider: created",
    LedgerAction.IDP_DISABLED: "Identity provider: disabled",
    LedgerAction.IDP_ENABLED: "Identity provider: enabled",
    LedgerAction.IDP_REFRESHED: "Identity provider: refreshed",
    LedgerAction.IDP_UPDATED: "Identity provider: updated",
    LedgerAction.INBOX_LISTED: "Coordinator's inbox: listed",
    LedgerAction.INVITATION_ACCEPTED: "Invitation: accepted",
    LedgerAction.INVITATION_CREATED: "Invitation: created",
    LedgerAction.LEDGER_CASE_REVIEWED: "Ledger: who has seen a case, reviewed",
    LedgerAction.LEDGER_CSV_EXPORTED: "Ledger: search results exported as CSV",
    LedgerAction.LEDGER_ENTRY_VIEWED: "Ledger: entry viewed",
    LedgerAction.LEDGER_EXPORTED: "Ledger: bundle exported for the verifier",
    LedgerAction.LEDGER_REVEAL_REASON_READ: "Ledger: a whereabouts reveal's reason, read",
    LedgerAction.LEDGER_SEARCHED: "Ledger: searched",
    LedgerAction.MEETING_ACTION_AGREED: "Meeting: action agreed",
    LedgerAction.MEETING_ACTION_REVIEWED: "Meeting: action reviewed",
    LedgerAction.MEETING_AGENDA_VIEWED: "Meeting: agenda viewed",
    LedgerAction.MEETING_ATTENDANCE_RECORDED: "Meeting: attendance recorded",
    LedgerAction.MEETING_ATTENDANCE_REMOVED: "Meeting: attendance removed",
    LedgerAction.MEETING_CASE_DISCUSSED: "Meeting: case discussed",
    LedgerAction.MEETING_CASE_OPENED: "Meeting: case opened",
    LedgerAction.MEETING_CASE_OUTCOME: "Meeting: case outcome",
    LedgerAction.MEETING_CASE_REOPENED: "Meeting: case reopened",
    LedgerAction.MEETING_CLOSED: "Meeting: closed",
    LedgerAction.MEETING_CONFIDENTIALITY_READ: "Meeting: confidentiality statement read out",
    LedgerAction.MEETING_DISCUSSION_SAVED: "Meeting: discussion saved",
    LedgerAction.MEETING_INFORMATION_SHARED: "Meeting: information shared",
    LedgerAction.MEETING_REVIEW_VIEWED: "Meeting: review viewed",
    LedgerAction.MEETING_SCHEDULED: "Meeting: scheduled",
    LedgerAction.MEETING_WHEREABOUTS_EXCLUDED: "Meeting: whereabouts excluded",
    LedgerAction.MEETING_WHEREABOUTS_INCLUDED: "Meeting: whereabouts included",
    LedgerAction.MEMBER_APPROVED: "Member: approved",
    LedgerAction.MEMBER_CREATED: "Member: created",
    LedgerAction.MEMBER_DISABLED: "Member: disabled",
    LedgerAction.MEMBER_ENABLED: "Member: enabled",
    LedgerAction.MEMBER_MOVED: "Member: moved",
    LedgerAction.MEMBER_ROLES_CHANGED: "Member: roles changed",
    LedgerAction.MEMBER_UPDATED: "Member: updated",
    LedgerAction.MINUTES_AMEND_VIEWED: "Minutes: amend viewed",
    LedgerAction.MINUTES_AMENDED: "Minutes: amended",
    LedgerAction.MINUTES_APPROVED: "Minutes: approved",
    LedgerAction.MINUTES_DISTRIBUTED: "Minutes: distributed",
    LedgerAction.MINUTES_DOWNLOADED: "Minutes: downloaded",
    LedgerAction.MINUTES_RENDERED: "Minutes PDF produced",
    LedgerAction.MINUTES_VIEWED: "Minutes: viewed",
    LedgerAction.NOTIFICATION_PREFERENCE_CHANGED: "Notification settings: changed",
    LedgerAction.REFERRAL_ACCEPTED: "Referral: accepted",
    LedgerAction.REFERRAL_AGGRESSOR_OPENED: "Referral: aggressor opened",
    LedgerAction.REFERRAL_CHECKED: "Referral: checked",
    LedgerAction.REFERRAL_CLOSED: "Referral: closed",
    LedgerAction.REFERRAL_DEFERRED: "Referral: deferred",
    LedgerAction.REFERRAL_DRAFT_CHANGED: "Referral: draft changed",
    LedgerAction.REFERRAL_DRAFT_OPENED: "Referral: draft opened",
    LedgerAction.REFERRAL_DRAFTED: "Referral: drafted",
    LedgerAction.REFERRAL_HEARD: "Referral: heard",
    LedgerAction.REFERRAL_PRIMARY_AGGRESSOR_NOTED: "Referral: primary aggressor noted",
    LedgerAction.REFERRAL_REJECTED: "Referral: rejected",
    LedgerAction.REFERRAL_REPEAT_ANSWERED: "Referral: repeat answered",
    LedgerAction.REFERRAL_REPEAT_CANDIDATES_LISTED: "Referral: possible repeats listed",
    LedgerAction.REFERRAL_REPEAT_CONFIRMED: "Referral: repeat confirmed",
    LedgerAction.REFERRAL_REPEAT_DISMISSED: "Referral: repeat dismissed",
    LedgerAction.REFERRAL_REPEAT_OPENED: "Referral: repeat opened",
    LedgerAction.REFERRAL_SHARE_OPENED: "Referral: share opened",
    LedgerAction.REFERRAL_SHARED: "Referral: shared",
    LedgerAction.REFERRAL_SUBMIT_OPENED: "Referral: submit opened",
    LedgerAction.REFERRAL_SUBMITTED: "Referral: submitted",
    LedgerAction.REFERRAL_TRIAGED: "Referral: triaged",
    LedgerAction.RESEARCH_CASE_OPENED: "Research: case opened",
    LedgerAction.RETENTION_CONFIRMED: "Retention: destruction of a case's records confirmed",
    LedgerAction.RETENTION_DESTROYED: (
        "Retention: records destroyed under the area's policy (classes and counts only)"
    ),
    LedgerAction.RETENTION_EXTENDED: "Retention: a case's records kept longer, with a reason",
    LedgerAction.RETENTION_HOLD_LIFTED: "Retention: legal hold on a case lifted",
    LedgerAction.RETENTION_HOLD_SET: "Retention: legal hold on a case set (its clock stops)",
    LedgerAction.RETENTION_POLICY_ADOPTED: "Retention: a new version of the area's policy adopted",
    LedgerAction.RETENTION_QUEUE_LISTED: "Retention: the review queue listed (references only)",
    LedgerAction.RETENTION_QUEUED: "Retention: records whose period ended put in the review queue",
    LedgerAction.RETURN_CATEGORIES_CHANGED: "Quarterly return: referral categories changed",
    LedgerAction.RETURN_EXPORTED: "Quarterly return: exported (counts only)",
    LedgerAction.RETURN_SETTINGS_CHANGED: "Quarterly return: settings changed",
    LedgerAction.RETURN_CORRECTED: "Quarterly return: correction sent",
    LedgerAction.RETURN_SUBMITTED: "Quarterly return: submitted",
    LedgerAction.RETURN_VALIDATED: "Quarterly return: validated",
    LedgerAction.RESEARCH_SAVED: "Research: saved",
    LedgerAction.RESEARCH_SHARED: "Research: shared",
    LedgerAction.RESEARCH_VIEWED: "Research: viewed",
    LedgerAction.SAR_CASE_READ: "Subject access: case read for the bundle",
    LedgerAction.SAR_CASE_RESTRICTED: "Subject access: processing of a case restricted",
    LedgerAction.SAR_CASE_RESTRICTION_LIFTED: "Subject access: restriction of a case lifted",
    LedgerAction.SAR_EXTENDED: "Subject access: due date extended",
    LedgerAction.SAR_IDENTITY_CHECKED: "Subject access: requester's identity checked",
    LedgerAction.SAR_PERPETRATOR_REVIEWED: "Subject access: perpetrator's request reviewed",
    LedgerAction.SAR_PRODUCED: "Subject access: PDF and disclosure log produced",
    LedgerAction.SAR_RECEIVED: "Subject access: request received",
    LedgerAction.SAR_REDACTION_CHANGED: "Subject access: redaction decided",
    LedgerAction.SAR_REFUSED: "Subject access: request refused",
    LedgerAction.SAR_REVIEW_STARTED: "Subject access: review started",
    LedgerAction.SAR_SENT: "Subject access: response sent",
    LedgerAction.SAR_SUBJECT_CHOSEN: "Subject access: subject matched to a person",
    LedgerAction.SIGNIN_FAILED: "Sign-in: failed",
    LedgerAction.SIGNIN_REAUTHENTICATED: "Signed in again for a sensitive action",
    LedgerAction.SIGNIN_SUCCEEDED: "Sign-in: succeeded",
    LedgerAction.SIGNOUT_SUCCEEDED: "Sign-out: succeeded",
    LedgerAction.TASK_CREATED: "Task: created",
    LedgerAction.TASK_ESCALATED: "Task: escalated",
    LedgerAction.TASK_LISTED: "Task: listed",
    LedgerAction.TASK_NOTED: "Task: noted",
    LedgerAction.TASK_REASSIGNED: "Task: reassigned",
    LedgerAction.TASK_REMINDED: "Task: reminded",
    LedgerAction.TASK_RESOLVED: "Task: resolved",
    LedgerAction.TASK_TAKEN: "Task: taken",
    LedgerAction.TASK_UPDATED: "Task: updated",
    LedgerAction.TASK_VIEWED: "Task: viewed",
    LedgerAction.TODO_TEMPLATE_CHANGED: "To-do template: changed",
    LedgerAction.TODO_TEMPLATE_CREATED: "To-do template: created",
    LedgerAction.TRANSFER_ACCEPTED: "Transfer: accepted into a new case by the receiving MARAC",
    LedgerAction.TRANSFER_ACKNOWLEDGED: "Transfer: receipt acknowledged by the receiving MARAC",
    LedgerAction.TRANSFER_DECLINED: "Transfer: declined by the receiving MARAC, with a reason",
    LedgerAction.TRANSFER_DELIVERY_FAILED: (
        "Transfer: the sealed package could not be delivered to the other hub, and why"
    ),
    LedgerAction.TRANSFER_HUB_ADMITTED: (
        "Transfer: an access token issued to a trusted hub, to push one package"
    ),
    LedgerAction.TRANSFER_PACKAGE_SEALED: (
        "Transfer: the pack signed and encrypted for the receiving hub"
    ),
    LedgerAction.TRANSFER_PACK_RECEIVED: (
        "Transfer: one piece of the pack received from another hub, with its lawful basis"
    ),
    LedgerAction.TRANSFER_PACK_DISCLOSED: (
        "Transfer: one piece of the pack disclosed to the receiving MARAC, with its lawful basis"
    ),
    LedgerAction.TRANSFER_PACK_READ: "Transfer: the pack read by a coordinator",
    LedgerAction.TRANSFER_RECEIPT_RECORDED: (
        "Transfer: the receiving hub's signed receipt verified and kept"
    ),
    LedgerAction.TRANSFER_RECEIVED: "Transfer: a package from another hub verified and filed",
    LedgerAction.TRANSFER_REFUSED: (
        "Transfer: a package or hub refused (replayed, altered, expired or untrusted)"
    ),
    LedgerAction.TRANSFER_SENT: "Transfer: the pack sent to the receiving MARAC",
    LedgerAction.TRANSFER_STARTED: "Transfer: started by the sending coordinator",
    LedgerAction.WHEREABOUTS_REVEALED: "Whereabouts revealed, with a reason",
}

"""What the setting's policy says to do, per category (shown in every alert).

Wording follows common early-years social media and safeguarding policies
(the EYFS statutory framework, sections 3.4-3.8, and Working Together to
Safeguard Children 2023).
"""
CATEGORY_TITLES = {
    "safeguarding": "Safeguarding concern",
    "confidentiality": "Confidentiality breach",
    "criticism": "Criticism of the setting",
}

POLICY = {
    "safeguarding": [
        "Record the concern now, in the words used (the record of concern on the alert page is pre-filled).",
        "Do not reply publicly and do not delete the comment: it may be evidence. Hiding it is fine.",
        "The DSL decides on a referral to children's social care; if a child is in immediate danger, call 999.",
        "If the concern is about a member of staff, contact the LADO within one working day and notify Ofsted "
        "as soon as possible and within 14 days.",
    ],
    "confidentiality": [
        "Hide the comment on the platform so the personal information is no longer public.",
        "Contact the person who posted it privately and remind them of the social media policy.",
        "If it identifies a child or their health or family circumstances, tell the family concerned.",
    ],
    "criticism": [
        "Do not argue in public. A short reply inviting the person to contact the manager is enough.",
        "Handle it through the complaints procedure and keep a record of the complaint and the response.",
    ],
}

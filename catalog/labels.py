"""The catalogue's code lists: each code with the Chinese name the catalogue shows.

Codes stay English in conf, the API and machine formats; people see the names. The grades
follow the graded protection the standard asks for (分级分类): ``restricted`` is the highest
grade the platform holds (受限: shared only on an authorised application, by name), never
涉密: classified state secrets do not enter a data-sharing platform at all.
"""

from __future__ import annotations

STATUS_NAMES = {
    "registered": "已登记",
    "approved": "已审核",
    "rejected": "已驳回",
    "published": "已发布",
    "unpublished": "已撤回",
    "superseded": "已替代",
}
CLASSIFICATION_NAMES = {
    "public": "公开",
    "internal": "内部",
    "sensitive": "敏感",
    "restricted": "受限",
}
SHARING_NAMES = {
    "unconditional": "无条件共享",
    "conditional": "有条件共享",
    "not_shared": "不予共享",
}
OPEN_NAMES = {"open": "普遍开放", "conditional_open": "依申请开放", "not_open": "不予开放"}

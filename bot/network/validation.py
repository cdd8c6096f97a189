"""Validation of network.yml: every problem reported as "<file>: <where>: <field>: <problem>", all at once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from bot.network.nodes import (
    ALLOWED_PARENTS,
    CENTRE,
    FIELDS,
    ID_PATTERN,
    KIND_LABELS,
    KINDS,
    LEVELS,
    NEW_CITY,
    SPECIAL_WINDOW,
    WORKSTATION,
    NetworkError,
    Node,
    match_key,
)


def validate(data: Any, source: str) -> list[Node]:
    problems: list[str] = []

    def err(where: str, fld: str, msg: str) -> None:
        problems.append(f"{source}: {where}: {fld}: {msg}")

    if not isinstance(data, dict):
        raise NetworkError(f"{source}: (文件): 顶层应为包含 nodes 列表的映射")
    for key in data:
        if key not in ("version", "nodes"):
            err("(文件)", str(key), "未知字段（可用字段：version、nodes）")
    if data.get("version", 1) != 1:
        err("(文件)", "version", f"不支持的版本 {data.get('version')!r}，应为 1")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise NetworkError(problems + [f"{source}: (文件): nodes: 缺少节点列表或列表为空"])

    nodes: list[Node] = []
    where_of: dict[str, str] = {}
    bad_level: set[Any] = set()  # reported already: no second "level missing"
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(raw, dict):
            err(where, "(条目)", "每个节点应为一个映射（id、name、kind …）")
            continue
        nid = raw.get("id")
        if isinstance(nid, str) and nid:
            where = f"nodes[{i}]（{nid}）"
        for key in raw:
            if key not in FIELDS:
                err(where, str(key), f"未知字段（可用字段：{'、'.join(FIELDS)}）")
        ok = True
        if not isinstance(nid, str) or not nid:
            err(where, "id", "缺少节点编号")
            ok = False
        elif not ID_PATTERN.match(nid):
            err(where, "id", f"“{nid}”无效：只能用小写字母、数字和“-”，不超过64个字符")
            ok = False
        elif nid in where_of:
            err(where, "id", f"编号“{nid}”重复（已在 {where_of[nid]} 使用）")
            ok = False
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            err(where, "name", "缺少名称")
            ok = False
        kind = raw.get("kind")
        if kind not in KINDS:
            err(where, "kind", f"“{kind}”无效，应为 {' / '.join(KINDS)} 之一")
            ok = False

        def opt_str(fld: str, max_len: int) -> Optional[str]:
            value = raw.get(fld)
            if value is None:
                return None
            if not isinstance(value, str) or not value.strip():
                err(where, fld, "应为非空文字")
                return None
            if len(value.strip()) > max_len:
                err(where, fld, f"过长（最多{max_len}个字符）")
            return value.strip()

        parent = raw.get("parent")
        if parent is not None and not isinstance(parent, str):
            err(where, "parent", "应为上级节点的编号")
            parent = None
        new_city = opt_str("new_city", 16)
        park = opt_str("park", 128)
        address = opt_str("address", 256)
        level = raw.get("level")
        if level is not None and level not in LEVELS:
            err(where, "level", f"“{level}”无效，应为 {' / '.join(LEVELS)} 之一")
            bad_level.add(nid)
            level = None
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            err(where, "aliases", "应为非空文字的列表")
            aliases = []
        active = raw.get("active", True)
        if not isinstance(active, bool):
            err(where, "active", "应为 true 或 false")
            active = True
        if not ok:
            continue
        assert isinstance(nid, str) and isinstance(name, str) and isinstance(kind, str)  # what `ok` stands for
        where_of[nid] = where
        nodes.append(
            Node(
                id=nid,
                name=name.strip(),
                kind=kind,
                parent=parent,
                new_city=new_city,
                park=park,
                level=level,
                address=address,
                aliases=tuple(a.strip() for a in aliases),
                active=active,
            )
        )

    by_id = {n.id: n for n in nodes}

    # The root.
    centres = [n for n in nodes if n.kind == CENTRE]
    if not centres:
        err("(文件)", "kind", "缺少综合服务中心（需要一个 kind: centre 的节点）")
    for extra in centres[1:]:
        err(where_of[extra.id], "kind", f"只能有一个综合服务中心（已有“{centres[0].id}”）")

    # Parents.
    for n in nodes:
        where = where_of[n.id]
        if n.kind == CENTRE:
            if n.parent is not None:
                err(where, "parent", "综合服务中心是根节点，不能有上级")
            continue
        if n.parent is None:
            err(
                where,
                "parent",
                f"缺少上级节点（{KIND_LABELS.get(n.kind, n.kind)}应挂在"
                f"{' 或 '.join(KIND_LABELS[k] for k in ALLOWED_PARENTS.get(n.kind, ()))}下）",
            )
            continue
        parent = by_id.get(n.parent)
        if parent is None:
            err(where, "parent", f"未知的上级节点“{n.parent}”")
        elif n.parent == n.id:
            err(where, "parent", "不能以自己为上级")
        elif parent.kind not in ALLOWED_PARENTS.get(n.kind, ()):
            allowed = " 或 ".join(KIND_LABELS[k] for k in ALLOWED_PARENTS.get(n.kind, ()))
            err(where, "parent", f"{KIND_LABELS[n.kind]}的上级应为{allowed}，“{n.parent}”是{KIND_LABELS[parent.kind]}")

    # Cycles (reported once each, starting from the smallest id in the cycle).
    reported: set[frozenset[str]] = set()
    for n in nodes:
        path: list[str] = []
        current: Optional[Node] = n
        while current is not None and current.id not in path:
            path.append(current.id)
            current = by_id.get(current.parent) if current.parent else None
        if current is not None:  # walked back into the path: a cycle
            cycle = path[path.index(current.id) :]
            members = frozenset(cycle)
            if members not in reported:
                reported.add(members)
                start = cycle.index(min(cycle))
                ring = cycle[start:] + cycle[:start] + [min(cycle)]
                err(where_of[min(cycle)], "parent", f"上级关系形成环：{' → '.join(ring)}")

    # New cities, parks, levels.
    city_names: dict[str, str] = {}
    for n in nodes:
        if n.kind == NEW_CITY:
            if not n.new_city:
                err(where_of[n.id], "new_city", "新城服务中心需要填写所属新城（如 沣西）")
            elif n.new_city in city_names:
                err(where_of[n.id], "new_city", f"新城“{n.new_city}”已由“{city_names[n.new_city]}”负责")
            else:
                city_names[n.new_city] = n.id
    resolved: list[Node] = []
    for n in nodes:
        where = where_of[n.id]
        parent = by_id.get(n.parent) if n.parent else None
        if n.kind == WORKSTATION:
            if not n.park:
                err(where, "park", "园区工作站需要填写所服务的园区（park）")
            if parent is not None and parent.kind == NEW_CITY:
                if n.new_city is None:
                    n = replace(n, new_city=parent.new_city)
                elif n.new_city != parent.new_city:
                    err(where, "new_city", f"“{n.new_city}”与上级“{parent.id}”的新城“{parent.new_city}”不一致")
            elif n.new_city is not None and n.new_city not in city_names:
                err(where, "new_city", f"未知的新城“{n.new_city}”（已有：{'、'.join(city_names) or '无'}）")
        else:
            if n.park is not None:
                err(where, "park", "只有园区工作站（workstation）填写 park")
            if n.kind != NEW_CITY and n.new_city is not None:
                err(where, "new_city", "只有新城服务中心和园区工作站填写 new_city")
        if n.kind == SPECIAL_WINDOW:
            if n.level is None and n.id not in bad_level:
                err(where, "level", f"政策兑现专窗需要填写级别（{' / '.join(LEVELS)}）")
        elif n.level is not None:
            err(where, "level", "只有政策兑现专窗（special_window）填写 level")
        resolved.append(n)

    levels: dict[str, str] = {}
    for n in resolved:
        if n.kind == SPECIAL_WINDOW and n.level:
            if n.level in levels:
                err(where_of[n.id], "level", f"{n.level}级专窗重复（已有“{levels[n.level]}”）")
            else:
                levels[n.level] = n.id

    # Names that recognise a location must point to one node only.
    owners: dict[str, str] = {}
    for n in resolved:
        if n.kind == WORKSTATION:
            fields = [("park", n.park)] + [("aliases", a) for a in n.aliases]
        elif n.kind == NEW_CITY:
            fields = [("new_city", n.new_city)] + [("aliases", a) for a in n.aliases]
        else:
            continue
        mine: set[str] = set()
        for fld, raw in fields:
            key = match_key(raw or "")
            if not key or key in mine:
                continue
            mine.add(key)
            if key in owners and owners[key] != n.id:
                err(where_of[n.id], fld, f"“{raw}”已用于节点“{owners[key]}”，无法区分")
            else:
                owners[key] = n.id

    if problems:
        raise NetworkError(problems)
    return resolved

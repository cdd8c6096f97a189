"""What the user is told about their personal information: the short notice in the chat before the first
personal detail is asked (the ticket form asks for name and mobile), and the privacy page at /privacy.

The periods come from the settings (PERSONAL_DATA_RETENTION_DAYS, TRACKER_RETENTION_DAYS, CHAT_KEY_IDLE_DAYS)
so the text always says what the scheduler really does.
"""

from __future__ import annotations

from typing import Optional

from bot.settings import Settings

PRIVACY_PATH = "/privacy"


def period(days: int) -> str:
    """1095 → '3 年', 180 → '180 天', 0 → '长期'."""
    if days <= 0:
        return "长期"
    if days % 365 == 0:
        return f"{days // 365} 年"
    return f"{days} 天"


MARKER = "《隐私说明》"  # every form of the notice names the page; the chat looks for it to tell it once


def chat_notice(settings: Optional[Settings] = None, asking: bool = True) -> str:
    """Shown once per conversation, before the form asks for the contact's name and mobile — or, for a
    returning contact whose details are already on file (`asking=False`), before they are used again."""
    s = settings or Settings.from_env()
    lead = (
        "为办理您的事项，接下来会请您提供企业名称、联系人姓名和手机号"
        if asking
        else "为办理您的事项，我们会使用您此前留下的企业名称、联系人姓名和手机号"
    )
    return (
        f"{lead}，仅用于受理、联系您反馈进度和回访，"
        f"不作其他用途；会话最后一次活动后保存 {period(s.personal_data_retention_days)}，到期自动删除或匿名化。"
        f"您可随时联系工作人员查阅、导出或删除您的信息，详见{MARKER}：{PRIVACY_PATH}"
    )


def notice_shown(bot_texts) -> bool:
    """True if one of the bot's earlier messages in this conversation was the notice."""
    return any(MARKER in (t or "") for t in bot_texts)


def page_sections(settings: Optional[Settings] = None) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) of the privacy page."""
    s = settings or Settings.from_env()
    keep = period(s.personal_data_retention_days)
    return [
        (
            "我们收集哪些信息",
            [
                "您在在线咨询、微信公众号或企业微信中发送的消息，以及智能助手的回复；",
                "您在对话中发送的图片和文件（如营业执照、申报材料），以及工作人员发给您的文件；",
                "办理事项时您提供的企业名称、统一社会信用代码、联系人姓名、手机号和事项说明；",
                "工单的办理记录、您对服务的评价，以及转人工时的对话记录；",
                "为统计服务质量，记录您向智能助手提出的问题及是否有帮助。",
            ],
        ),
        (
            "为什么收集",
            [
                "受理并办理您提出的事项，按时限联系您反馈进度、补充材料和回访；",
                "在您转人工时让工作人员了解前面的对话，不必让您重复说明；",
                "统计服务情况、改进答复（统计只使用汇总数字）。",
                "我们不会将您的信息用于与上述目的无关的用途，也不会向无关的第三方提供。",
            ],
        ),
        (
            "保存多久",
            [
                f"聊天消息、图片和文件、转人工记录、问答记录和通知：自会话最后一次活动起保存 {keep}，到期自动删除；",
                f"工单：办理记录（编号、事项类别、办理节点、时间和状态）长期保留，联系人姓名、手机号和您填写的说明在 {keep} 后匿名化；",
                f"智能助手的对话状态记录：保存 {period(s.tracker_retention_days)}；",
                f"在线咨询页面的会话密钥：{period(s.chat_key_idle_days)}未使用即失效，之后将为您开启新的会话。",
            ],
        ),
        (
            "如何查阅、导出或删除",
            [
                "在线咨询页面右上角的“结束会话”会清除本设备上的会话，适合在公用电脑上使用；",
                "如需查阅、导出或删除您的全部信息，请在聊天中联系人工客服或到秦创原总窗口现场办理，"
                "提供您的手机号或会话编号，工作人员核实后为您办理；删除后工单只保留匿名化的办理记录。",
            ],
        ),
        (
            "安全措施",
            [
                "数据存放在服务器的受限目录中，仅服务程序可读；日志中的手机号、证件号和密钥均做遮盖处理；",
                "工作人员只能查看本服务节点的工单和会话，每一次查阅、导出和删除都有审计记录。",
            ],
        ),
        ("依据", ["我们依照《中华人民共和国个人信息保护法》处理您的个人信息。"]),
    ]

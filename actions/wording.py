"""What the custom actions say: every sentence, template and button title the actions send, in one place.

A module rather than domain.yml responses because most of these are composed at run time (ticket numbers,
counts, names, a field's "what I need" line inside the second-miss reply) and their buttons are built per turn;
the fixed replies Rasa's rules and forms send themselves (utter_greet, utter_ask_<slot>, …) stay in domain.yml.
Wording the domain core already owns is not repeated here: the knowledge-base replies and their buttons
(转人工服务, 有帮助/没帮助) are bot.knowledge.replies, the ticket summary, confirmation buttons, "已登记" and
list lines bot.tickets.chat, need acknowledgements bot.dialogue.needs, 政策体检 questions and results
bot.dialogue.policy_check, the privacy notice bot.privacy.notice.

Constants are sentences sent as they are; templates have str.format placeholders ({number}, {name}, …) for the
parts known only at run time. Changing a word here changes what users read: the unit tests and the dialogue
evaluation assert on exact texts. tests/unit/test_static_checks.py fails when an action module gets a
user-facing Chinese literal of its own.
"""

from __future__ import annotations

# ---- general: acknowledgements and feedback on an answer ------------------------------------------------

# A plain yes / no with nothing to give feedback on.
ACK_YES = "好的。请告诉我您想办理或咨询的具体事项。"
ACK_NO = "好的，没问题。还有其他需要随时告诉我。"
# Feedback on a knowledge-base answer ("有帮助" / "没帮助"); the second offers a person.
FEEDBACK_THANKS = "感谢您的反馈！还有其他问题随时问我。"
FEEDBACK_SORRY = "抱歉没能帮到您，您的反馈已记录，我们会改进解答。需要的话可以请服务专员为您详细解答。"

# ---- handover to staff --------------------------------------------------------------------------------

# The handover could not be recorded: the bot keeps answering and offers to register the need.
HANDOVER_FAILED = (
    "抱歉，转接服务专员暂时没有成功，请稍后再说一次「转人工」。您也可以先描述需求，我帮您登记，专员会跟进办理。"
)
REGISTER_NEED_BUTTON = {"title": "登记需求", "payload": "/open_ticket"}
# Said before the handover notice when the user asked for a person.
HANDOVER_LEAD = "好的，正在为您转接服务专员。"
# Two misses in a row: a person takes over.
FALLBACK_HANDOVER_LEAD = "抱歉，我还是没能找到您要的答案。为避免耽误您的时间，已为您转接服务专员。"
# A category routed straight to staff (routing.yml staff_only); {label} is bot.dialogue.needs.label.
STAFF_ONLY_LEAD = "{label}类事项由服务专员直接为您办理。"
# After a handover ended: without a recent staff service just a greeting, else the rating question.
BOT_IS_BACK = "原上管家在这里，有什么可以帮您？"
HANDOVER_RATING_QUESTION = "本次人工服务已结束，原上管家继续为您服务。请为刚才服务专员的服务打个分："
# The answer to that question: no score read, a low score, a good one.
HANDOVER_RATING_NO_SCORE = "感谢您的反馈！还有其他问题随时告诉我。"
HANDOVER_RATING_LOW = "非常抱歉这次人工服务没能让您满意！您的评价已记录，我们会安排负责人跟进改进。"
HANDOVER_RATING_THANKS = "感谢您对服务专员的评价！还有其他问题随时告诉我。"

# ---- ticket form (需求登记) ------------------------------------------------------------------------------

# Starting the form from a need the bot recognised without a category (actions.respond).
REGISTER_START = "好的，我来帮您登记需求，由服务专员跟进办理（随时说「取消」可退出登记）。"
# Starting the form on request ("帮我登记需求") or from a 政策体检 result button.
REGISTER_START_ON_REQUEST = "好的，我来帮您登记需求，由服务专员跟进办理。随时说「取消」可退出登记。"
# A question answered in the middle of the form, before the form asks its slot again.
FORM_RESUME = "以上是您问题的解答。我们继续刚才的需求登记："
# First miss on a slot: ask again, in other words.
ASK_AGAIN = {
    "need_description": "请用一两句话描述您的需求，例如「想申请知识产权质押贷款，额度500万左右」。",
    "enterprise_name": "请告诉我企业的全称，例如「西安某某科技有限公司」。",
    "contact_name": "请告诉我联系人的姓名（例如「王经理」或「李明」）。",
    "contact_mobile": "这个号码好像不是有效的手机号，请输入11位大陆手机号（以1开头）。",
    "ticket_location": (
        "没有识别出您所在的园区或新城。请告诉我所在新城（沣东、沣西、秦汉、空港、泾河）或园区名称；"
        "不在园区请回复「无」。"
    ),
    "ticket_confirm": "请回复「确认」提交登记；要修改请直接说，例如「手机号改成139…」；不办了请说「取消」。",
}
# Second miss: say plainly what is expected ({expected}, one of EXPECTED) and offer a person or cancelling.
EXPECTED = {
    "need_description": "我需要您用一两句话说明想办理的事，例如「想申请知识产权质押贷款，额度500万左右」。",
    "enterprise_name": "我需要企业的全称，例如「西安某某科技有限公司」。",
    "contact_name": "我需要联系人的称呼，例如「李明」或「王经理」。",
    "contact_mobile": "我需要一个11位的大陆手机号，例如「139 1234 5678」这样的格式。",
    "ticket_location": "我需要企业所在的新城（沣东、沣西、秦汉、空港、泾河）或园区名称；不在园区请回复「无」。",
    "ticket_confirm": "请回复「确认」提交；要修改就直接说「手机号改成…」「公司名改成…」。",
}
STILL_NOT_UNDERSTOOD = (
    "抱歉，我还是没能识别。{expected}\n如果不方便在这里填写，可以请服务专员帮您登记；不办了请说「取消」。"
)
CANCEL_FORM_BUTTON = {"title": "取消登记", "payload": "取消"}
# A corrected credit code that is not 18 characters long.
CREDIT_CODE_AGAIN = "统一社会信用代码应为18位，请核对后再说一次。"
# The form ended without a ticket: "转人工" or "取消".
FORM_HANDOVER_LEAD = "好的，先不在这里登记了，正在为您转接服务专员。"
FORM_CANCELLED = "好的，已取消本次需求登记。还有其他问题随时找我。"
# Opening the ticket failed: refused by the service ({error} is its Chinese message), or an unexpected error.
SUBMIT_REFUSED = "登记没有成功：{error}"
SUBMIT_FAILED = "抱歉，系统暂时无法登记，请稍后再试，或输入「转人工」由服务专员为您登记。"

# ---- verification as an enterprise contact ("验证", a 6-digit code) --------------------------------------

VERIFY_BUTTON = {"title": "验证企业联系人身份", "payload": "验证"}
# By outcome of IdentityService.send_code; {mobile} is the masked mobile, {name} the enterprise.
SENT = {
    "sent": "验证码已发送至贵企业登记的手机号 {mobile}，5分钟内有效。请直接回复6位验证码（例如「123456」）。",
    "staff": "企业联系人身份由服务专员核实确认。您可以输入「转人工」，专员确认后即可查看和办理贵企业的全部工单。",
    "no_claim": "您还没有在这里登记过企业。登记需求时填写企业名称后，才能验证为该企业的联系人。",
    "verified": "您已是「{name}」的已验证联系人，可以查看和办理贵企业的全部工单（说「我的工单」即可）。",
    "wait": "验证码刚刚发送过，请稍等一分钟再试；如已收到，请直接回复6位验证码。",
    "limit": "今天获取验证码的次数已达上限。请明天再试，或输入「转人工」由服务专员核实确认。",
    "failed": "验证码暂时没能发送，请稍后再试，或输入「转人工」由服务专员核实确认。",
}
# By outcome of IdentityService.check_code; {left} is the attempts left, {name} the enterprise.
CHECKED = {
    "verified": "验证成功！您已确认为「{name}」的联系人，现在可以查看和办理贵企业的全部工单（说「我的工单」即可）。",
    "wrong": "验证码不正确，还可以再试{left}次。",
    "expired": "验证码已过期，请回复「验证」重新获取。",
    "too_many": "验证码输错次数过多，已失效。请回复「验证」重新获取。",
    "none": "现在没有待输入的验证码，请回复「验证」获取。",
}

# ---- my tickets (我的工单) -------------------------------------------------------------------------------

# An unverified sender who registered an enterprise: the way to see all of its tickets.
VERIFY_OFFER = "如需查看「{name}」的全部工单，请先验证您是该企业的联系人：回复「验证」。"
NO_TICKETS = "目前还没有查到您登记的工单。您可以直接告诉我想办理的事项，我来帮您登记并跟踪进度。"
# The list's first line: a verified contact sees the enterprise's tickets, others their own.
MY_TICKETS_ENTERPRISE = "您企业名下最近的工单（共{count}个）："
MY_TICKETS_OWN = "您在这里登记的工单（共{count}个）："
# Buttons under the list (and the add-info question): title and the message a click sends.
ADD_INFO_BUTTON_TITLE = "补充信息 {number}"
ADD_INFO_PAYLOAD = "补充工单 {number} 的信息"
RATE_BUTTON_TITLE = "评价 {number}"
RATE_PAYLOAD = "评价工单 {number}"

# ---- adding information to an open ticket ----------------------------------------------------------------

NO_OPEN_TICKETS = "没有查到您名下办理中的工单可以补充。如有新需求，直接告诉我即可。"
WHICH_TICKET_TO_ADD = "请问要补充到哪个工单？"
ADD_INFO_EMPTY = "请直接输入要补充的内容。"
ADD_INFO_CANCELLED = "好的，已取消补充。"
ADD_INFO_DONE = "已补充到工单 {number}，服务专员会看到。当前状态：{status}。"

# ---- rating a closed ticket -------------------------------------------------------------------------------

# Several tickets wait for a rating: one button each; a score already given travels in the payload.
WHICH_TICKET_TO_RATE = "您有几个已办结的工单，请问要评价哪一个？"
RATE_WITH_SCORE_PAYLOAD = "{label} {number}"
# A named ticket that is not the sender's to rate; {numbers} joined with NUMBERS_SEPARATOR.
NOT_RATABLE = "没有找到您名下待评价的工单 {numbers}。"
NUMBERS_SEPARATOR = "、"
# Nothing waits for a rating: a complaint gets the way to a person, anything else a plain answer.
NOTHING_TO_RATE_COMPLAINT = (
    "抱歉没能让您满意。您名下暂时没有待评价的已办结工单；请说说哪里不满意，我帮您登记，也可以直接转人工服务。"
)
NOTHING_TO_RATE = "谢谢您的反馈！您名下暂时没有待评价的已办结工单，工单办结后我会请您评价。"
# The rating question (buttons: bot.tickets.chat.RATING_BUTTONS, payload RATE_WITH_SCORE_PAYLOAD).
ASK_RATING = "请为工单 {number} 的服务打分："
RATING_LOW = "非常抱歉这次没能让您满意！工单 {number} 已重新进入办理，我们会安排专人回访。"
RATING_THANKS = "感谢您对工单 {number} 的评价！"
# The optional comment after a rating: recorded, or none given.
COMMENT_NOTED = "您的意见已记录，谢谢！"
COMMENT_SKIPPED = "好的，感谢您的支持！"

# ---- policy check (政策体检) -------------------------------------------------------------------------------

CHECK_OFFER_BUTTON = {"title": "按我们的数字做政策体检", "payload": "/policy_check"}
CHECK_INTRO = "好的，我来帮您做个政策体检：只问几个关键数字，大概的数就行（不清楚可以说「跳过」，说「取消」可退出）。"
# Appended to CHECK_INTRO when figures are already known ({known}: bot.dialogue.policy_check.describe).
CHECK_KNOWN = "\n已记下：{known}。"
# After a knowledge-base answer to a message with figures in it.
CHECK_OFFER = "需要的话，我也可以按您说的数字做个政策体检，看看能享受哪些政策、还差什么。"
# An answer with no figure in it, asked once more.
CHECK_NO_NUMBER = "抱歉，我没能从这句话里读出数字。大概的数就行，不清楚可以说「跳过」。"
CHECK_CANCELLED = "好的，已退出政策体检。您说过的数字我先记着，想继续时说「政策体检」就行。"
# A result button per fitting policy; {name} is the policy's short name (bot.dialogue.policy_check.SHORT_NAMES).
CHECK_REGISTER_BUTTON_TITLE = "登记{name}需求"

"""Every text of the planner's page, in English and Chinese, in one place.

The page reads its words from :data:`TEXTS` only (``t(lang, key, **values)``), so that
they can later move to the project's shared label catalogue without touching the
templates. Names from the scenario (stations, items, classes) come from the scenario:
its ``label`` / ``label_zh`` where it has them, else the key (:func:`label`).
"""

from __future__ import annotations

from typing import Any

from sim import i18n

LANGS = ("en", "zh")
DEFAULT_LANG = "en"

#: entries without "zh" take their Chinese from the shared catalogue (sim/data/i18n.zh.toml),
#: where their English is a key: no text is translated twice
TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "govsim: what if?", "zh": "govsim:改革推演"},
    "tagline": {"en": "Pick a scenario, switch reforms on, change staffing, and see what it "
                      "does against the baseline (common random numbers).",
                "zh": "选择情景,启用改革措施,调整各部门人员,查看与基准方案的对比(共同随机数)。"},
    "lang_switch": {"en": "中文", "zh": "English"},
    "scenario": {"en": "Scenario"},
    "upload": {"en": "Upload a scenario (TOML)", "zh": "上传情景文件(TOML)"},
    "upload_button": {"en": "Upload", "zh": "上传"},
    "upload_note": {"en": "Validated like a file, at most {limit} KB; never executed. "
                          "Kept while the server runs.",
                    "zh": "与文件同样校验,最大 {limit} KB,不会被执行;服务器运行期间保留。"},
    "reforms": {"en": "Reforms", "zh": "改革措施"},
    "reforms_note": {"en": "Tick a reform to apply it; empty arguments take their default.",
                     "zh": "勾选即启用;参数留空则取默认值。"},
    "required": {"en": "required", "zh": "必填"},
    "default": {"en": "default"},
    "staffing": {"en": "Staffing per station", "zh": "各部门(窗口)人员"},
    "staffing_note": {"en": "Servers at each station (baseline value shown).",
                      "zh": "各部门的办理人员数(显示基准值)。"},
    "station": {"en": "Station", "zh": "部门"},
    "servers": {"en": "Servers", "zh": "人员"},
    "replications": {"en": "Replications", "zh": "重复次数"},
    "seed": {"en": "Seed", "zh": "随机种子"},
    "run": {"en": "Run what-if", "zh": "运行推演"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "running": {"en": "Running: {done} of {total} replications",
                "zh": "运行中:已完成 {done} / {total} 次重复"},
    "queued": {"en": "Waiting for the worker…", "zh": "等待计算资源…"},
    "cancelled": {"en": "Cancelled.", "zh": "已取消。"},
    "no_connection": {"en": "Cannot reach the govsim server (is it still running?); trying "
                            "again…",
                      "zh": "无法连接 govsim 服务器(是否仍在运行?);正在重试…"},
    "failed": {"en": "The run failed: {error}", "zh": "运行失败:{error}"},
    "error": {"en": "Error", "zh": "错误"},
    "warning": {"en": "Note", "zh": "提示"},
    "no_change": {"en": "The variant is the baseline: switch a reform on or change staffing.",
                  "zh": "当前方案与基准相同:请启用改革措施或调整人员。"},
    "answer": {"en": "The answer", "zh": "结论"},
    # the answer: the scenario's first headline measure ({measure}, {unit}: the catalogue's)
    "sentence_lower": {
        "en": "With {changes}, the {measure} falls from {base} to {variant}{unit} "
              "({diff}, 95% CI {lo} to {hi}){within}",
        "zh": "实施{changes}后,{measure}由 {base}{unit}降至 {variant}{unit}"
              "(变化 {diff},95% 置信区间 {lo} 至 {hi}){within}"},
    "sentence_higher": {
        "en": "With {changes}, the {measure} rises from {base} to {variant}{unit} "
              "({diff}, 95% CI {lo} to {hi}){within}",
        "zh": "实施{changes}后,{measure}由 {base}{unit}升至 {variant}{unit}"
              "(变化 {diff},95% 置信区间 {lo} 至 {hi}){within}"},
    "sentence_unsure": {
        "en": "With {changes}, the {measure} goes from {base} to {variant}{unit} "
              "({diff}, 95% CI {lo} to {hi}: not distinguishable from no change){within}",
        "zh": "实施{changes}后,{measure}由 {base}{unit}变为 {variant}{unit}"
              "(变化 {diff},95% 置信区间 {lo} 至 {hi}:与无变化无法区分){within}"},
    "sentence_share": {"en": "; the share {measure} goes from {base} to {variant}.",
                       "zh": ";{measure}由 {base} 变为 {variant}。"},
    "sentence_within": {"en": "; the share within {limit} working days goes from {base} to "
                              "{variant}.",
                        "zh": ";{limit} 个工作日内办结的比例由 {base} 变为 {variant}。"},
    "sentence_within_nolimit": {"en": "; the share within the limits goes from {base} to "
                                      "{variant}.",
                                "zh": ";在时限内办结的比例由 {base} 变为 {variant}。"},
    "sentence_end": {"en": "."},
    "and": {"en": " and "},
    "staff_change": {"en": "{station} at {servers} servers", "zh": "{station}调整为 {servers} 人"},
    "settings": {"en": "{n} replications each, seed {seed}, engine {engine}, common random "
                       "numbers; computed in {seconds} s{cached}.",
                 "zh": "每个方案 {n} 次重复,随机种子 {seed},引擎 {engine},共同随机数;"
                       "用时 {seconds} 秒{cached}。"},
    "from_cache": {"en": " (from the cache)", "zh": "(来自缓存)"},
    "kpis": {"en": "Key figures"},
    "kpi": {"en": "Measure", "zh": "指标"},
    "baseline": {"en": "Baseline", "zh": "基准方案"},
    "variant": {"en": "Variant", "zh": "改革方案"},
    "difference": {"en": "Difference (paired)", "zh": "差值(配对)"},
    "ci": {"en": "95% CI of the difference"},
    "distribution": {"en": "Lead time distribution"},
    "distribution_note": {"en": "Share of completed cases finished within x working days "
                                "(all replications pooled).",
                          "zh": "在 x 个工作日内办结的案件比例(合并全部重复)。"},
    "workdays_axis": {"en": "lead time (working days)", "zh": "办理时长(工作日)"},
    "share_axis": {"en": "share of cases"},
    "limit": {"en": "limit {limit}", "zh": "时限 {limit}"},
    "split": {"en": "Where the time goes", "zh": "时间花在哪里"},
    "split_note": {"en": "Mean calendar days per case on the critical path.",
                   "zh": "关键路径上每件案件的平均日历天数。"},
    "split_service": {"en": "government work"},
    "split_queue": {"en": "queueing"},
    "split_applicant": {"en": "with the applicant", "zh": "申请人准备"},
    "days": {"en": "days", "zh": "天"},
    "stations": {"en": "Stations"},
    "utilization": {"en": "Utilization", "zh": "利用率"},
    "wait_hours": {"en": "Mean wait (hours)", "zh": "平均等候(小时)"},
    "wait_seconds": {"en": "Mean wait (seconds)", "zh": "平均等候(秒)"},
    "downloads": {"en": "Downloads", "zh": "下载"},
    "dl_toml": {"en": "variant scenario (TOML)", "zh": "改革方案情景(TOML)"},
    "dl_json": {"en": "comparison (JSON)", "zh": "对比结果(JSON)"},
    "dl_report": {"en": "HTML report", "zh": "HTML 报告"},
    "link": {"en": "This page's address reproduces the variant.",
             "zh": "本页地址即可复现该方案。"},
    "loopback": {"en": "Served on {host}.", "zh": "服务地址 {host}。"},
    "not_found": {"en": "Not found.", "zh": "未找到。"},
    "bad_request": {"en": "Bad request", "zh": "请求有误"},
    "upload_too_big": {"en": "the upload is {size:,} bytes: a scenario must be at most "
                             "{limit:,} bytes",
                       "zh": "上传文件为 {size:,} 字节:情景文件最大为 {limit:,} 字节"},
    "upload_empty": {"en": "no file was uploaded", "zh": "未上传文件"},
    "unknown_scenario": {"en": "unknown scenario {name!r} (choose from: {known})",
                         "zh": "未知情景 {name!r}(可选:{known})"},
    # KPI labels of the table that the shared catalogue (sim/results/headline.py's measures,
    # sim/data/i18n.zh.toml) does not have: those it has come from it
    "k_lead_time_workdays.p50": {"en": "median lead time (working days)",
                                 "zh": "办理时长中位数（工作日）"},
    "k_lead_time_split_days.service": {"en": "days in government work"},
    "k_lead_time_split_days.queue": {"en": "days queueing"},
    "k_lead_time_split_days.applicant": {"en": "days with the applicant"},
    "k_gov_cost_per_case": {"en": "government cost per case"},
    "k_applicant_cost_per_case": {"en": "applicant cost per case"},
}


def t(lang: str, key: str, **values: Any) -> str:
    """The text ``key`` in ``lang`` (English when missing), formatted with ``values``."""
    entry = TEXTS[key]
    text = entry.get(lang) or ""
    if not text:
        with i18n.use(lang):
            text = i18n.t(entry[DEFAULT_LANG])  # the shared catalogue's, or the English
    return text.format(**values) if values else text


def pick_lang(value: str | None) -> str:
    """``?lang=`` as given, or the default for anything else."""
    return value if value in LANGS else DEFAULT_LANG


def label(obj: Any, key: str, lang: str) -> str:
    """A scenario part's name for the page: :func:`sim.i18n.name` (its ``label_zh`` in
    Chinese, its ``label`` otherwise, else its key) in ``lang``."""
    with i18n.use(lang):
        return i18n.name(key, obj)

"""Command numbers, data fields and data flags of HJ 212-2017 (Annex B/C and §6.6-6.7).

Data flags (HJ 212-2017 Table 7, "数据标记"): N normal, F monitor stopped,
M maintenance, S manual input/set value, D fault, C calibration, T over the
upper limit of the range, B communication error. Only N is a measurement the
hub trusts as is; the other flags keep their value with a bad quality code
(``citysense.quality``), so dashboards show the value and say why it is not
trusted.
"""

from __future__ import annotations

from citysense.quality import Quality

FLAG_QUALITY: dict[str, Quality] = {
    "N": Quality.GOOD,
    "F": Quality.SENTINEL,  # monitor stopped (停运): the value is not a measurement
    "M": Quality.SENTINEL,  # maintenance (维护)
    "S": Quality.SENTINEL,  # manual input / set value (手工输入): not measured
    "C": Quality.SENTINEL,  # calibration (校准)
    "D": Quality.DEVICE_EXCEPTION,  # fault (故障)
    "T": Quality.OUT_OF_RANGE,  # over the range's upper limit (超测上限)
    "B": Quality.COMM_FAILURE,  # communication error between analyser and data logger (通讯异常)
}

# Uploads whose observations are stored (Annex C, Table C.1): the window each one's -Avg/-Min/-Max belong to.
DATA_WINDOWS: dict[str, str] = {
    "2011": "",  # real-time data (实时数据)
    "2051": "min",  # minute data (分钟数据)
    "2061": "hour",  # hourly data (小时数据)
    "2031": "day",  # daily data (日历史数据)
    "2021": "",  # equipment running state (设备运行状态): <equipment>-RS
    "2041": "day",  # equipment running time per day (设备运行时间日历史数据): <equipment>-RT
    "3020": "",  # field machine information (现场机信息): <code>-Info
}
CN_TIME_CALIBRATION_REQUEST = "1013"  # the station asks for the time (2017)
CN_SET_TIME = "1012"
CN_GET_TIME = "1011"
CN_REQUEST_ANSWER = "9011"  # QnRtn: 1 ready to run the request
CN_EXECUTION_RESULT = "9012"  # ExeRtn: 1 success
CN_NOTICE_ANSWER = "9013"
CN_DATA_ANSWER = "9014"
ANSWERS = frozenset({CN_REQUEST_ANSWER, CN_EXECUTION_RESULT, CN_NOTICE_ANSWER, CN_DATA_ANSWER})
ST_SYSTEM = "91"  # system interaction (系统交互), the ST of every answer

# Fields of a pollutant that are not values (kept as the value's quality or ignored).
NON_VALUE_FIELDS = frozenset({"Flag", "EFlag", "SampleTime"})
# Downlink actions (:meth:`Hj212Protocol.command`) and their command numbers.
ACTIONS: dict[str, str] = {
    "clock_query": CN_GET_TIME,
    "clock_set": CN_SET_TIME,
    "query_realtime": "2011",
    "stop_realtime": "2012",
    "query_state": "2021",
    "stop_state": "2022",
    "query_minute": "2051",
    "query_hourly": "2061",
    "query_daily": "2031",
}

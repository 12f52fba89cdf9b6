"""Chinese name pools for the demo set: towns, industries, companies, officials, documents.

Everything here is synthetic. Town names are real 乡镇/街道 of each county (public
GB/T 2260 sub-divisions) so that project names read plausibly; company names and people
are invented; phone numbers are masked (138****0001) so they cannot reach anyone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TOWNS: dict[str, tuple[str, ...]] = {
    "140502": (
        "北街街道",
        "东街街道",
        "西街街道",
        "南街街道",
        "矿区街道",
        "钟家庄街道",
        "西上庄街道",
        "北石店镇",
    ),
    "140521": (
        "龙港镇",
        "中村镇",
        "郑庄镇",
        "端氏镇",
        "嘉峰镇",
        "郑村镇",
        "柿庄镇",
        "十里乡",
        "胡底乡",
        "固县乡",
        "土沃乡",
        "张村乡",
        "苏庄乡",
        "樊村河乡",
    ),
    "140522": (
        "凤城镇",
        "北留镇",
        "润城镇",
        "町店镇",
        "芹池镇",
        "次营镇",
        "横河镇",
        "河北镇",
        "蟒河镇",
        "东冶镇",
        "白桑乡",
        "寺头乡",
        "西河乡",
        "演礼乡",
        "固隆乡",
        "董封乡",
        "驾岭乡",
    ),
    "140524": (
        "崇文镇",
        "礼义镇",
        "附城镇",
        "西河底镇",
        "平城镇",
        "杨村镇",
        "潞城镇",
        "夺火乡",
        "马圪当乡",
        "古郊乡",
        "六泉乡",
        "秦家庄乡",
    ),
    "140525": (
        "南村镇",
        "下村镇",
        "大东沟镇",
        "周村镇",
        "犁川镇",
        "晋庙铺镇",
        "金村镇",
        "高都镇",
        "巴公镇",
        "大阳镇",
        "山河镇",
        "李寨乡",
        "柳树口镇",
        "北义城镇",
        "南岭乡",
    ),
    "140581": (
        "东城街道",
        "南城街道",
        "北城街道",
        "米山镇",
        "三甲镇",
        "神农镇",
        "陈区镇",
        "北诗镇",
        "河西镇",
        "马村镇",
        "野川镇",
        "寺庄镇",
        "原村乡",
        "石末乡",
        "永录乡",
        "建宁乡",
    ),
}

RIVERS: dict[str, str] = {
    "140502": "白水河",
    "140521": "沁河",
    "140522": "沁河",
    "140524": "武家湾河",
    "140525": "丹河",
    "140581": "丹河",
}

ENTITY_PLACE: dict[str, str] = {"140502": "晋城市城区"}
"""How a county appears in an agency's name (城区 alone would be ambiguous)."""


@dataclass(frozen=True)
class Template:
    """A project-name pattern; `gov` marks government-invested works (划拨 land, 审批 code)."""

    pattern: str
    gov: bool = False


@dataclass(frozen=True)
class Industry:
    """An industry of the "1+5" system with its project-name patterns and money scale."""

    name: str
    weight: float
    urban: bool
    """Sited near the county seat (industrial parks) rather than anywhere in the county."""
    division: str
    """GB/T 4754 division code used in the project code."""
    company_suffix: str
    median_wan: float
    templates: tuple[Template, ...]
    agency: str = ""
    """Government owner of its `gov` projects (prefixed with the county)."""


T = Template
INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "新能源",
        0.12,
        False,
        "44",
        "新能源",
        30000,
        (
            T("{town}{mw}MW光伏发电项目"),
            T("{town}{mw}MW农光互补光伏电站项目"),
            T("{co}{mw}MW风电项目"),
            T("{co}分布式光伏及储能一体化项目"),
            T("{town}{mw}MW/{mwh}MWh独立储能电站项目"),
        ),
    ),
    Industry(
        "煤层气",
        0.08,
        False,
        "07",
        "燃气",
        40000,
        (
            T("{town}区块煤层气勘探开发项目"),
            T("{co}煤层气液化（LNG）调峰储备项目"),
            T("{town}煤层气集输管网工程"),
            T("{co}年抽采{yi}亿立方米煤层气开发项目"),
            T("{co}煤层气发电项目"),
        ),
    ),
    Industry(
        "光机电",
        0.07,
        True,
        "39",
        "光电科技",
        25000,
        (
            T("{co}光机电产业园项目"),
            T("{co}精密光学元件生产线项目"),
            T("{co}智能传感器制造基地项目"),
            T("{co}激光器及光电模组项目"),
            T("{co}消费电子精密结构件项目"),
        ),
    ),
    Industry(
        "先进装备制造",
        0.10,
        True,
        "34",
        "装备制造",
        20000,
        (
            T("{co}年产{wan}万台（套）智能装备项目"),
            T("{co}高端铸造产业园项目"),
            T("{co}新能源汽车零部件项目"),
            T("{co}液压支架智能制造项目"),
            T("{co}风电装备制造项目"),
        ),
    ),
    Industry(
        "新材料",
        0.09,
        True,
        "30",
        "新材料",
        30000,
        (
            T("{co}年产{wan}万吨碳基新材料项目"),
            T("{co}特种钢材精深加工项目"),
            T("{co}高性能陶瓷新材料项目"),
            T("{co}锂电池负极材料项目"),
            T("{co}铝镁合金新材料项目"),
        ),
    ),
    Industry(
        "文旅康养",
        0.08,
        False,
        "88",
        "文旅",
        15000,
        (
            T("{town}太行康养小镇项目"),
            T("{town}古堡文化旅游开发项目"),
            T("{town}乡村文旅综合体项目"),
            T("{co}康养中心建设项目"),
            T("{town}景区提质升级项目", gov=True),
        ),
        agency="文化和旅游局",
    ),
    Industry(
        "交通",
        0.10,
        False,
        "48",
        "交通建设",
        40000,
        (
            T("{town}至{town2}公路改建工程", gov=True),
            T("{county}国道{road}线改线工程", gov=True),
            T("{town}物流园区道路工程", gov=True),
            T("{county}城乡公交枢纽站建设项目", gov=True),
            T("{town}旅游公路建设项目", gov=True),
            T("{co}现代物流园项目"),
        ),
        agency="交通运输局",
    ),
    Industry(
        "水利",
        0.06,
        False,
        "76",
        "水务",
        10000,
        (
            T("{town}水库除险加固工程", gov=True),
            T("{county}城区供水管网改造工程", gov=True),
            T("{river}{town}段综合治理工程", gov=True),
            T("{town}农村供水保障工程", gov=True),
            T("{county}{river}流域生态修复工程", gov=True),
        ),
        agency="水务局",
    ),
    Industry(
        "城市更新",
        0.10,
        True,
        "47",
        "置业",
        8000,
        (
            T("{town}老旧小区改造项目", gov=True),
            T("{town}城中村改造项目", gov=True),
            T("{county}地下管网更新改造工程", gov=True),
            T("{town}片区城市更新项目"),
            T("{county}街区改造提升工程", gov=True),
        ),
        agency="住房和城乡建设局",
    ),
    Industry(
        "现代农业",
        0.08,
        False,
        "01",
        "农业科技",
        5000,
        (
            T("{town}高标准农田建设项目", gov=True),
            T("{co}农产品精深加工项目"),
            T("{town}设施农业产业园项目"),
            T("{co}中药材种植加工基地项目"),
            T("{co}生猪标准化养殖项目"),
        ),
        agency="农业农村局",
    ),
    Industry(
        "数字经济",
        0.05,
        True,
        "65",
        "数字科技",
        20000,
        (
            T("{co}数据中心项目"),
            T("{co}5G+工业互联网产业园项目"),
            T("{county}智慧城市建设项目", gov=True),
            T("{co}算力中心项目"),
            T("{co}智能制造数字化改造项目"),
        ),
        agency="政务信息管理局",
    ),
    Industry(
        "社会民生",
        0.07,
        True,
        "84",
        "",
        8000,
        (
            T("{county}人民医院新院区建设项目", gov=True),
            T("{town}中学教学楼建设项目", gov=True),
            T("{county}养老服务中心项目", gov=True),
            T("{county}全民健身中心项目", gov=True),
            T("{town}卫生院改扩建项目", gov=True),
        ),
        agency="卫生健康和体育局",
    ),
)

COMPANY_PREFIXES = (
    "泽润",
    "晋泰",
    "太行",
    "丹河",
    "凤鸣",
    "鼎晟",
    "瑞锦",
    "恒昌",
    "晋晖",
    "中锐",
    "博远",
    "兴晋",
    "宏泰",
    "金泽",
    "天泰",
    "晟泰",
    "长鑫",
    "泽源",
    "晋丰",
    "珏山",
    "析城",
    "王屋",
    "沁润",
    "锦程",
    "宏圣",
    "立晟",
    "泽盛",
    "汇川",
    "睿达",
    "元丰",
    "凯隆",
    "龙腾",
    "星睿",
    "嘉禾",
    "泽宇",
    "中晋",
)

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋"
    "蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟"
    "段雷钱汤尹常武乔贺赖龚文牛申原靳晋卫"
)
GIVEN_CHARS = "建国志强伟军明华海平磊涛斌俊峰鹏辉波勇杰晓红丽芳静敏霞燕玲娟新文立宏永春光学世德振"

ROADS = ("207", "208", "341", "342", "239", "522")

AGENCY_CITY_LAND = "晋城市规划和自然资源局"
AGENCY_PROVINCE = "山西省人民政府"
AGENCY_PROVINCE_LAND = "山西省自然资源厅"
COMMAND_OFFICE = "市项目攻坚指挥部办公室"


def place(county_code: str, county_name: str) -> str:
    """County as it appears in an agency name."""
    return ENTITY_PLACE.get(county_code, county_name)


def person(rng: random.Random) -> str:
    """A synthetic two- or three-character name."""
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(1 if rng.random() < 0.35 else 2))
    return rng.choice(SURNAMES) + given


def masked_phone(serial: int) -> str:
    """A clearly fake mobile number: the middle digits are masked."""
    return f"1{38 + serial % 2}****{serial % 10000:04d}"


def county_land_bureau(county_code: str, county_name: str) -> str:
    if county_code == "140502":
        return "晋城市规划和自然资源局城区分局"
    return f"{county_name}自然资源局"


def county_leader_title(county_code: str) -> str:
    """Vice head of the county-level government."""
    if county_code == "140502":
        return "副区长"
    if county_code == "140581":
        return "副市长"
    return "副县长"


CITY_LEADER_TITLES = (
    "常务副市长",
    "市委常委、副市长",
    "副市长",
    "副市长",
    "副市长",
    "副市长",
    "副市长",
)
"""The city's 包联领导: one executive vice-mayor and the vice-mayors in charge of sectors."""

MEASURES = (
    "提前介入、容缺受理，并联审批",
    "专人帮办代办，每周调度办理进度",
    "对接省直部门，争取开辟绿色通道",
    "组织专家集中评审，限时办结",
    "实行告知承诺制，先批后验",
    "压茬推进，与规划许可同步办理",
    "县级部门联审联批，问题清单化管理",
)

APPROVAL_NAMES: dict[str, tuple[str, ...]] = {
    "PROJECT_FILING": ("项目备案", "项目核准", "可行性研究报告批复"),
    "LAND_PRE_EXAMINATION": ("用地预审与选址意见书",),
    "LAND_PLANNING_PERMIT": ("建设用地规划许可证",),
    "ENGINEERING_PLANNING_PERMIT": ("建设工程规划许可证",),
    "ENVIRONMENTAL_ASSESSMENT": ("环境影响评价报告书批复", "环境影响评价报告表批复"),
    "ENERGY_REVIEW": ("节能审查意见",),
    "SOIL_WATER_PLAN": ("水土保持方案批复",),
    "CONSTRUCTION_PERMIT": ("建筑工程施工许可证",),
    "OTHER": (
        "压覆矿产资源审批",
        "社会稳定风险评估",
        "地质灾害危险性评估",
        "文物勘探",
        "消防设计审查",
        "使用林地审核",
    ),
}

ISSUE_TITLES: dict[str, tuple[str, ...]] = {
    "LAND": (
        "新增建设用地指标不足，农转用报批滞后",
        "项目选址涉及永久基本农田，需调整选址",
        "土地征收补偿标准未达成一致",
        "用地预审意见书临近失效",
    ),
    "APPROVAL": ("环评批复未取得，影响开工", "施工许可办理受阻", "压覆矿产审批周期长"),
    "FUNDS": ("项目资本金未足额到位", "专项债券资金拨付滞后", "银行贷款审批未通过"),
    "RELOCATION": ("征地拆迁尚有农户未签协议", "高压线及管线迁改滞后", "坟墓迁移进展缓慢"),
    "ENERGY": ("能耗指标不足", "110kV变电站配套建设滞后", "天然气接入未落实"),
    "OTHER": ("施工用水用电协调困难", "周边村民阻工", "施工场地平整滞后"),
}

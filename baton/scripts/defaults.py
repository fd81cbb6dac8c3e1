"""The script packs Baton ships (Chinese first: the sales floor's language). Installed by
`scripts_install_defaults()`; sales ops edit or deactivate them and add their own."""

DEFAULT_PACKS = [
    {
        "key": "price_sensitive", "name": "价格敏感型客户", "scenario": "price_sensitive",
        "description": "客户反复压价、拿价格说事时使用。",
        "scripts": [
            ("先认同再拆解", "我理解您对价格的关注，每一笔预算都要花在刀刃上。我们先一起看看，您最看重的是哪几项效果？"
                            "我按这几项把费用拆开给您算一算。"),
            ("算总账", "单看报价我们确实不是最低的，但把实施、培训和后期维护算进来，三年总成本反而更低。"
                      "我把对比表发您微信，您看一下？"),
            ("给选择不给折扣", "如果预算这次卡得紧，我们可以先上核心模块，其余的下个季度再加，这样首期投入能降三成左右。"),
        ],
    },
    {
        "key": "long_chain", "name": "决策链较长", "scenario": "long_chain",
        "description": "需要多个部门、多层领导拍板的客户。",
        "scripts": [
            ("摸清决策链", "除了您之外，这个项目最后还需要哪些部门或领导一起确认？他们各自最关心什么？"),
            ("约关键人", "为了让方案更贴合实际，能否请您帮忙约一下财务和 IT 的负责人，我们用 30 分钟一起过一遍？"),
            ("给内部推动材料", "我给您准备一份一页纸的汇报材料，里面有投入、回报和上线计划，方便您在内部汇报时使用。"),
        ],
    },
    {
        "key": "competitor", "name": "竞品对比", "scenario": "competitor",
        "description": "客户正在与竞争对手比较时使用。",
        "scripts": [
            ("了解对比维度", "您这次主要在和哪几家对比？您觉得他们打动您的地方是什么？"),
            ("不贬低对手", "他们在这方面做得确实不错。我们的差异主要在本地化服务和数据安全上，我给您举两个同行业客户的例子。"),
            ("邀请试用", "与其听我们各说各的，不如拿您的真实数据试用两周，效果一看就清楚。"),
        ],
    },
]

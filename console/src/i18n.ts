import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export type Lang = 'zh' | 'en';

/** Every text of the console: [Chinese, English]. Chinese is the default (the operations centre works in Chinese). */
const TEXT = {
  title: ['数字吉林物联网监测控制台', 'Digital Jilin IoT monitoring console'],
  overview: ['总览', 'Overview'],
  incidents: ['安全事件', 'Incidents'],
  subscriptions: ['告警订阅', 'Subscriptions'],
  deadLetters: ['死信', 'Dead letters'],
  devices: ['设备与目录', 'Devices & catalogue'],
  capacity: ['容量规划', 'Capacity'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  token: ['访问令牌', 'API token'],
  tokenHelp: ['令牌见启动时打印的令牌文件（默认 data/api-token），或由管理员分配。', 'The token is in the token file printed at start (data/api-token by default), or given to you by an administrator.'],
  badToken: ['令牌无效', 'This token is not valid'],
  language: ['English', '中文'],
  languageLabel: ['切换到英文', 'Switch to Chinese'],
  role_viewer: ['查看者', 'viewer'],
  role_operator: ['值班员', 'operator'],
  role_admin: ['管理员', 'admin'],
  live: ['实时', 'live'],
  offline: ['连接中断', 'disconnected'],
  msgRate: ['消息/秒', 'Messages/s'],
  received: ['已接收', 'Received'],
  stored: ['已存储', 'Stored'],
  deadLettered: ['已转死信', 'Dead-lettered'],
  spool: ['本地缓冲', 'Spool'],
  ledger: ['账目平衡', 'Ledger balance'],
  balanced: ['平衡', 'balanced'],
  unbalanced: ['不平衡', 'unbalanced'],
  health: ['服务状态', 'Service health'],
  ready: ['就绪', 'Ready'],
  notReady: ['未就绪', 'Not ready'],
  up: ['正常', 'up'],
  down: ['异常', 'down'],
  devicesOnline: ['在线设备（行业 × 地区）', 'Devices online (sector × region)'],
  openByLevel: ['未关闭事件（按级别）', 'Open incidents by level'],
  rateChart: ['近 5 分钟消息速率', 'Message rate, last 5 minutes'],
  sector: ['行业', 'Sector'],
  region: ['地区', 'Region'],
  level: ['级别', 'Level'],
  state: ['状态', 'State'],
  category: ['类别', 'Category'],
  overdue: ['已逾期', 'Overdue'],
  any: ['全部', 'Any'],
  yes: ['是', 'yes'],
  no: ['否', 'no'],
  st_unresolved: ['未解决', 'unresolved'],
  st_open: ['待处理', 'open'],
  st_acknowledged: ['已确认', 'acknowledged'],
  st_resolved: ['已解决', 'resolved'],
  reportBy: ['报告时限', 'Report by'],
  reported: ['已报告', 'reported'],
  opened: ['发生时间', 'Opened'],
  titleCol: ['事件', 'Incident'],
  noIncidents: ['没有符合条件的事件', 'No incidents match'],
  acknowledge: ['确认', 'Acknowledge'],
  resolve: ['解决', 'Resolve'],
  markReported: ['标记已报告', 'Mark reported'],
  note: ['备注', 'Note'],
  report: ['事件报告（Markdown）', 'Report (Markdown)'],
  chainCheck: ['事件日志链校验', 'Incident log chain check'],
  runCheck: ['校验', 'Check'],
  chainOk: ['链完整', 'chain intact'],
  chainBroken: ['链已损坏', 'chain broken'],
  records: ['条记录', 'records'],
  timeline: ['时间线', 'Timeline'],
  evidence: ['证据', 'Evidence'],
  deviceList: ['涉及设备', 'Devices'],
  close: ['关闭', 'Close'],
  details: ['详情', 'Details'],
  left: ['剩余', 'left'],
  late: ['逾期', 'late'],
  newSubscription: ['新建订阅', 'New subscription'],
  editSubscription: ['编辑订阅', 'Edit subscription'],
  name: ['名称', 'Name'],
  channel: ['通道', 'Channel'],
  url: ['Webhook 地址', 'Webhook URL'],
  secret: ['签名密钥', 'Signing secret'],
  secretKeep: ['留空则无法保存：密钥不会回显，请重新输入', 'The secret is never shown again: enter it to save'],
  topicPrefix: ['MQTT 主题前缀', 'MQTT topic prefix'],
  minLevel: ['最低级别', 'Lowest level'],
  clearanceCol: ['数据级别许可', 'Clearance'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  edit: ['编辑', 'Edit'],
  delete: ['删除', 'Delete'],
  sendTest: ['发送测试告警', 'Send test alert'],
  testSent: ['测试告警已进入发件箱', 'Test alert queued'],
  delivery: ['投递状态', 'Delivery'],
  pending: ['待发', 'pending'],
  retrying: ['重试中', 'retrying'],
  delivered: ['已送达', 'delivered'],
  dropped: ['已放弃', 'dropped'],
  lastError: ['最近错误', 'Last error'],
  noSubscriptions: ['还没有订阅', 'No subscriptions yet'],
  adminOnly: ['仅管理员可修改订阅', 'Only an admin can change subscriptions'],
  byReason: ['按原因统计（启动以来）', 'By reason (since start)'],
  overTime: ['近一小时（每分钟，按原因）', 'Last hour (per minute, by reason)'],
  latest: ['最新记录（个人字段已假名化）', 'Latest records (personal fields pseudonymised)'],
  recordsOperator: ['记录仅对值班员和管理员显示', 'Records are shown to operators and admins only'],
  reason: ['原因', 'Reason'],
  source: ['来源', 'Source'],
  topic: ['主题', 'Topic'],
  detail: ['说明', 'Detail'],
  time: ['时间', 'Time'],
  payload: ['载荷', 'Payload'],
  none: ['无', 'none'],
  registry: ['设备登记', 'Device registry'],
  keyed: ['签名密钥', 'Keyed'],
  lastSeen: ['最后上报', 'Last seen'],
  silent: ['静默', 'silent'],
  online: ['在线', 'online'],
  never: ['从未', 'never'],
  catalogue: ['公共数据目录', 'Public data catalogue'],
  code: ['编码', 'Code'],
  grade: ['数据级别', 'Grade'],
  share: ['共享属性', 'Sharing'],
  openness: ['开放属性', 'Openness'],
  updateCycle: ['更新周期', 'Update cycle'],
  horizon: ['预测期', 'Horizon'],
  notEnoughHistory: ['历史数据不足，暂不给出预测和建议', 'Not enough history yet: no forecast and no recommendation'],
  historyHave: ['已有历史', 'History so far'],
  historyNeed: ['所需历史', 'History needed'],
  metric: ['指标', 'Metric'],
  current: ['当前', 'Current'],
  atHorizon: ['预测期末', 'At horizon'],
  interval: ['预测区间', 'Prediction interval'],
  limit: ['上限', 'Limit'],
  exhaustedAt: ['耗尽日期', 'Runs out'],
  neverRunsOut: ['预测期内不会耗尽', 'not within the horizon'],
  resources: ['资源需求', 'Resources'],
  loading: ['加载中…', 'Loading…'],
  error: ['出错', 'Error'],
  forbidden: ['当前角色无权执行此操作', 'Your role may not do this'],
  skip: ['跳到主要内容', 'Skip to content'],
  filters: ['筛选', 'Filters'],
  total: ['合计', 'Total'],
  uptime: ['运行时长', 'Uptime'],
  mqtt: ['MQTT', 'MQTT'],
  influx: ['InfluxDB', 'InfluxDB'],
  kafka: ['Kafka', 'Kafka'],
  notUsed: ['未使用', 'not used'],
  history: ['历史', 'history'],
  forecast: ['预测', 'forecast'],
  more: ['加载更多', 'Load more'],
  checkpoints: ['检查点', 'checkpoints'],
  notOffered: ['本进程不提供此页面', 'This process does not offer this page'],
} as const satisfies Record<string, readonly [string, string]>;

export type TextKey = keyof typeof TEXT;

/** Level names (GB/T 20986-2023 and the national reporting rules): 特别重大 I ... 一般 IV. */
const LEVELS: Record<number, [string, string]> = { 1: ['特别重大（I级）', 'I (extraordinary)'], 2: ['重大（II级）', 'II (major)'], 3: ['较大（III级）', 'III (large)'], 4: ['一般（IV级）', 'IV (general)'] };

const CATEGORY: Record<string, [string, string]> = {
  malware: ['恶意程序事件', 'Malware'],
  'network-attack': ['网络攻击事件', 'Network attack'],
  'data-security': ['数据安全事件', 'Data security'],
  'information-content': ['信息内容安全事件', 'Information content'],
  'device-fault': ['设备设施故障事件', 'Device fault'],
  violation: ['违规操作事件', 'Violation'],
  'security-hazard': ['安全隐患事件', 'Security hazard'],
  'abnormal-behaviour': ['异常行为事件', 'Abnormal behaviour'],
  'force-majeure': ['不可抗力事件', 'Force majeure'],
  other: ['其他事件', 'Other'],
};

const SECTOR: Record<string, [string, string]> = { agri: ['农业', 'Agriculture'], v2x: ['车联网', 'V2X'], energy: ['能源', 'Energy'], iiot: ['工业互联网', 'Industrial internet'] };

/** English names of Jilin's divisions (the catalogue names them in Chinese). */
const DIVISION_EN: Record<string, string> = {
  '220100': 'Changchun', '220200': 'Jilin City', '220300': 'Siping', '220400': 'Liaoyuan', '220500': 'Tonghua', '220600': 'Baishan', '220700': 'Songyuan', '220800': 'Baicheng', '222400': 'Yanbian',
  '220182': 'Yushu', '220183': 'Dehui', '220184': 'Gongzhuling', '220281': 'Jiaohe', '220882': "Da'an", '222401': 'Yanji', '222404': 'Hunchun',
};

const EVENT: Record<string, [string, string]> = {
  opened: ['发生', 'opened'], updated: ['更新', 'updated'], escalated: ['升级', 'escalated'], acknowledged: ['确认', 'acknowledged'], resolved: ['解决', 'resolved'],
  reopened: ['重新打开', 'reopened'], overdue: ['逾期未报', 'overdue'], reported: ['已报告', 'reported'], cleared: ['信号消失', 'cleared'],
};

const METRIC: Record<string, [string, string]> = { write_rate: ['写入速率', 'write rate'], storage: ['存储', 'storage'], compute: ['计算', 'compute'], series: ['序列数', 'series'] };

const GRADE: Record<string, [string, string]> = { general: ['一般数据', 'general'], important: ['重要数据', 'important'], core: ['核心数据', 'core'] };
const SHARE: Record<string, [string, string]> = { unconditional: ['无条件共享', 'unconditional'], conditional: ['有条件共享', 'conditional'], none: ['不予共享', 'not shared'] };
const OPEN: Record<string, [string, string]> = { open: ['无条件开放', 'open'], conditional: ['有条件开放', 'conditional'], closed: ['不予开放', 'closed'] };

export interface I18n {
  lang: Lang;
  t: (k: TextKey) => string;
  level: (n: number) => string;
  category: (c: string) => string;
  sector: (s: string) => string;
  /** A division by name and code, e.g. 长春市 220100 / Changchun 220100. */
  region: (code: string) => string;
  grade: (g: string) => string;
  /** A capacity metric (write_rate, storage, ...). */
  metric: (m: string) => string;
  /** An incident's title in the operator's language: its kind (detector.kind), sector and division. */
  incidentTitle: (inc: { kind: string; detector: string; sector: string; region: string }) => string;
  /** An incident timeline event (opened, acknowledged, ...). */
  event: (e: string) => string;
  share: (s: string) => string;
  open: (s: string) => string;
  /** Date and time in the operations centre's zone (Asia/Shanghai). */
  time: (ms: number) => string;
  number: (n: number, digits?: number) => string;
}

export function makeI18n(lang: Lang, divisions: Map<string, string>): I18n {
  const i = lang === 'zh' ? 0 : 1;
  const pick = (table: Record<string, readonly [string, string]>, k: string) => table[k]?.[i] ?? k;
  const dt = new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return {
    lang,
    t: (k) => TEXT[k][i],
    level: (n) => LEVELS[n]?.[i] ?? String(n),
    category: (c) => pick(CATEGORY, c),
    sector: (s) => pick(SECTOR, s),
    region: (code) => `${(lang === 'zh' ? divisions.get(code) : DIVISION_EN[code]) ?? divisions.get(code) ?? ''} ${code}`.trim(),
    grade: (g) => pick(GRADE, g),
    event: (e) => pick(EVENT, e),
    metric: (m) => pick(METRIC, m),
    incidentTitle: (inc) => `${inc.detector}.${inc.kind} · ${pick(SECTOR, inc.sector)} · ${(lang === 'zh' ? divisions.get(inc.region) : DIVISION_EN[inc.region]) ?? ''} ${inc.region}`.replace(/ {2,}/g, ' '),
    share: (s) => pick(SHARE, s),
    open: (s) => pick(OPEN, s),
    time: (ms) => dt.format(new Date(ms)),
    number: (n, digits = 0) => n.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits }),
  };
}

export const I18nContext = createContext<I18n>(makeI18n('zh', new Map()));
export const useI18n = () => useContext(I18nContext);

export const LEVEL_CLASS: Record<number, string> = { 1: 'lv1', 2: 'lv2', 3: 'lv3', 4: 'lv4' };

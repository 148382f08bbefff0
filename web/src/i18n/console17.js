// Messages of the operator-grade console pages (issue 17): one block per locale,
// merged into the main catalogues by i18n/index.js so parallel branches do not
// edit the same lines.
export const zhCN17 = {
  bell: {
    title: '报警', unread: '{n} 条未处理报警', newAlarm: '新报警', openLive: '查看实时视频', snapshot: '抓图', all: '全部报警',
    sound: '声音提示', soundLevel: '提示级别', soundOff: '关闭', soundUpTo: '{p}及以上', dismiss: '关闭', place: '地点',
    noSource: '未关联通道', ack: '确认',
  },
  alarmFilter: { time: '时间范围', level: '级别', state: '状态', region: '区划', type: '报警方式', any: '全部', start: '开始', end: '结束' },
  liveX: {
    debug: '调试信息', streamDefault: '默认码流', auto: '自动（9/16分屏用子码流）', tour: '轮巡', tourStart: '开始轮巡', tourStop: '停止轮巡',
    dwell: '停留(秒)', group: '分组', saveLayout: '保存布局', layouts: '已存布局', layoutName: '布局名称', saved: '已保存', load: '打开',
    groupName: '分组名称', saveGroup: '当前画面存为分组', noGroup: '先将画面存为分组', del: '删除',
  },
  devmgmt: {
    title: '设备管理', add: '添加设备', deviceId: '设备编码', name: '名称', password: '设备密码', passwordHint: '留空则用平台统一密码',
    transport: '信令传输', mediaTransport: '媒体传输', manufacturer: '厂商', region: '区划', admission: '准入', online: '在线状态',
    any: '全部', syncSel: '批量同步目录', deleteSel: '批量删除', pending: '待准入设备', admit: '准入', reject: '拒绝', failures: '注册失败',
    reason: '原因', count: '次数', lastAt: '最近一次', host: '来源地址', created: '已添加 {id}', confirmDelete: '删除选中的 {n} 台设备？',
    batchDone: '成功 {ok} / {n}', noPending: '没有待准入的设备', noFailures: '没有注册失败', never: '从未注册', lastSeen: '最近注册',
    reasons: {
      Forbidden: '密码错误', 'Pending Approval': '待准入审批', 'Device Rejected': '已被拒绝准入', 'Too Many Failed Attempts': '失败过多，暂时锁定',
      'Invalid Device ID': '设备编码无效', 'Credentials Do Not Match Device': '认证用户名与设备编码不符',
    },
  },
  recon: {
    title: '应接未接', recordNoChannel: '有档案未接入', channelNoRecord: '已接入未建档', neverRegistered: '从未注册', stoppedRegistering: '停止注册',
    code: '编码', name: '名称', region: '区划', device: '设备', lastSeen: '最近注册',
  },
  empty: {
    ledger: '还没有档案。点击"从设备同步"，为已接入的摄像机通道建立档案；或"导入"一机一档表。',
    map: '地图上还没有点位：点位来自一机一档中带经纬度的档案。先到一机一档点击"从设备同步"。',
    tree: '还没有设备。设备向本平台注册后会出现在这里；也可在"设备管理"中预先添加。',
    goLedger: '去一机一档',
  },
  ledgerPages: {
    regions: '行政区划', organisations: '单位', police: '派出所', platforms: '平台档案', systems: '内部系统', quality: '质量报告', duplicates: '重复档案',
    code: '编码', name: '名称', level: '级别', type: '类型', parent: '上级', address: '地址', phone: '电话', contact: '联系人', add: '新增',
    saved: '已保存', children: '下级', region: '区划', count: '数量', completeRate: '完整率', onMapRate: '上图率', records: '档案数',
    unassigned: '未指定区划', group: '重复依据', ids: '档案', total: '共 {n} 条',
  },
  mapX: { search: '搜索点位名称或编码', locate: '定位', box: '框选', radius: '圈选', toLive: '送到实时视频 ({n})', layer: '底图', offline: '离线底图', tiles: '瓦片服务' },
  nav17: { devmgmt: '设备管理', recon: '应接未接', ledgerPages: '档案资料' },
  historyAction: { create: '新建', update: '修改', delete: '删除', sync: '从设备同步', import: '导入', revalidate: '重新校验', fromChannel: '来自通道 {code}' },
}

export const en17 = {
  bell: {
    title: 'Alarms', unread: '{n} unhandled alarms', newAlarm: 'New alarm', openLive: 'Live video', snapshot: 'Snapshot', all: 'All alarms',
    sound: 'Sound', soundLevel: 'Sound for', soundOff: 'Off', soundUpTo: '{p} and above', dismiss: 'Close', place: 'Place',
    noSource: 'No linked channel', ack: 'Acknowledge',
  },
  alarmFilter: { time: 'Time', level: 'Level', state: 'State', region: 'Region', type: 'Method', any: 'Any', start: 'From', end: 'To' },
  liveX: {
    debug: 'Debug info', streamDefault: 'Default stream', auto: 'Auto (sub-stream at 9/16)', tour: 'Tour', tourStart: 'Start tour', tourStop: 'Stop tour',
    dwell: 'Dwell (s)', group: 'Group', saveLayout: 'Save layout', layouts: 'Saved layouts', layoutName: 'Layout name', saved: 'Saved', load: 'Open',
    groupName: 'Group name', saveGroup: 'Save cells as group', noGroup: 'Save the cells as a group first', del: 'Delete',
  },
  devmgmt: {
    title: 'Device management', add: 'Add device', deviceId: 'Device ID', name: 'Name', password: 'Device password', passwordHint: 'Empty: the platform password',
    transport: 'Signalling', mediaTransport: 'Media transport', manufacturer: 'Manufacturer', region: 'Region', admission: 'Admission', online: 'Online',
    any: 'Any', syncSel: 'Sync catalogs', deleteSel: 'Delete', pending: 'Pending admission', admit: 'Admit', reject: 'Reject', failures: 'Registration failures',
    reason: 'Reason', count: 'Count', lastAt: 'Last', host: 'From', created: 'Added {id}', confirmDelete: 'Delete the {n} selected devices?',
    batchDone: '{ok} of {n} done', noPending: 'No device awaits admission', noFailures: 'No failed registrations', never: 'Never registered', lastSeen: 'Last registered',
    reasons: {
      Forbidden: 'Wrong password', 'Pending Approval': 'Awaiting admission', 'Device Rejected': 'Admission rejected', 'Too Many Failed Attempts': 'Locked after failures',
      'Invalid Device ID': 'Invalid device ID', 'Credentials Do Not Match Device': 'User name differs from device ID',
    },
  },
  recon: {
    title: 'Reconciliation', recordNoChannel: 'Recorded, not connected', channelNoRecord: 'Connected, no record', neverRegistered: 'Never registered',
    stoppedRegistering: 'Stopped registering', code: 'Code', name: 'Name', region: 'Region', device: 'Device', lastSeen: 'Last registered',
  },
  empty: {
    ledger: 'No records yet. Press "Sync from devices" to create records for the connected cameras, or import a survey form.',
    map: 'No points on the map yet: points are ledger records with coordinates. Go to the ledger and press "Sync from devices".',
    tree: 'No devices yet. Devices appear here when they register; you can also add them in Device management.',
    goLedger: 'Open the ledger',
  },
  ledgerPages: {
    regions: 'Regions', organisations: 'Organisations', police: 'Police stations', platforms: 'Platforms', systems: 'Internal systems', quality: 'Quality report',
    duplicates: 'Duplicates', code: 'Code', name: 'Name', level: 'Level', type: 'Type', parent: 'Parent', address: 'Address', phone: 'Phone', contact: 'Contact',
    add: 'Add', saved: 'Saved', children: 'Children', region: 'Region', count: 'Count', completeRate: 'Complete', onMapRate: 'On map', records: 'Records',
    unassigned: 'No region', group: 'Duplicate by', ids: 'Records', total: '{n} in all',
  },
  mapX: { search: 'Search a camera by name or code', locate: 'Locate', box: 'Box select', radius: 'Radius select', toLive: 'Send to live ({n})', layer: 'Basemap', offline: 'Offline basemap', tiles: 'Tile server' },
  nav17: { devmgmt: 'Devices', recon: 'Reconciliation', ledgerPages: 'Ledger data' },
  historyAction: { create: 'Created', update: 'Changed', delete: 'Deleted', sync: 'Synced from device', import: 'Imported', revalidate: 'Revalidated', fromChannel: 'from channel {code}' },
}

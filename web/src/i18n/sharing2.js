// Wave-2 sharing console messages (applications page, catalogue picker, review map),
// merged into the locale messages in index.js.
export const zhCNSharing2 = {
  apps: {
    nav: '开放接口应用', new: '新建应用', create: '创建', name: '名称', key: 'App Key', secret: 'App Secret', org: '所属单位',
    rights: '权限', channels: '限定通道', channelsHint: '通道编号，逗号分隔；留空为单位全部授权',
    enabled: '启用', disabled: '已停用', disable: '停用', enable: '启用', rotate: '重置密钥', webhooks: '事件推送',
    secretTitle: '应用密钥', secretOnce: '密钥只显示这一次，请立即妥善保存；关闭后无法再次查看。', secretSaved: '我已保存',
    events: '事件', addHook: '添加推送', hookAdded: '已添加推送地址', deliveries: '推送记录', attempts: '尝试次数', error: '错误',
    event: {
      name: '事件', 'device.online': '设备上线', 'device.offline': '设备离线', 'channel.online': '通道上线',
      'channel.offline': '通道离线', alarm: '报警', 'grant.changed': '授权变更',
    },
  },
  share2: {
    catalogue: '可申请通道', search: '搜索名称或编号', picked: '已选 {n} 个通道', civil: '行政区划', map: '申请通道位置',
    noPosition: '无坐标', showMap: '地图', noChannels: '没有可显示的通道',
  },
}

export const enSharing2 = {
  apps: {
    nav: 'Open API apps', new: 'New application', create: 'Create', name: 'Name', key: 'App key', secret: 'App secret', org: 'Organisation',
    rights: 'Rights', channels: 'Channel limit', channelsHint: 'Channel ids, comma separated; empty = all of the organisation\'s grants',
    enabled: 'Enabled', disabled: 'Disabled', disable: 'Disable', enable: 'Enable', rotate: 'Rotate secret', webhooks: 'Webhooks',
    secretTitle: 'Application secret', secretOnce: 'The secret is shown only this once: store it now, it cannot be shown again.', secretSaved: 'I have stored it',
    events: 'Events', addHook: 'Add webhook', hookAdded: 'Webhook added', deliveries: 'Delivery log', attempts: 'Attempts', error: 'Error',
    event: {
      name: 'Event', 'device.online': 'Device online', 'device.offline': 'Device offline', 'channel.online': 'Channel online',
      'channel.offline': 'Channel offline', alarm: 'Alarm', 'grant.changed': 'Grant changed',
    },
  },
  share2: {
    catalogue: 'Channels you may request', search: 'Search name or code', picked: '{n} channels picked', civil: 'Civil code', map: 'Requested channels',
    noPosition: 'no position', showMap: 'Map', noChannels: 'No channels to show',
  },
}

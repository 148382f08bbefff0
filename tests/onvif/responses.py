"""SOAP responses in the shape a real ONVIF camera sends (a Hikvision-style IPC's, trimmed).

``{base}`` is the double's http://host:port, ``{rtsp}`` its RTSP server's host:port.
"""

ENV = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:ter="http://www.onvif.org/ver10/error">'
    "<env:Body>{body}</env:Body></env:Envelope>"
)

GET_SYSTEM_DATE_AND_TIME = """<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>
<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>
<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>
<tt:UTCDateTime><tt:Time><tt:Hour>{h}</tt:Hour><tt:Minute>{mi}</tt:Minute>
<tt:Second>{s}</tt:Second></tt:Time><tt:Date><tt:Year>{y}</tt:Year><tt:Month>{mo}</tt:Month>
<tt:Day>{d}</tt:Day></tt:Date></tt:UTCDateTime>
<tt:LocalDateTime><tt:Time><tt:Hour>{lh}</tt:Hour><tt:Minute>{mi}</tt:Minute>
<tt:Second>{s}</tt:Second></tt:Time><tt:Date><tt:Year>{y}</tt:Year><tt:Month>{mo}</tt:Month>
<tt:Day>{d}</tt:Day></tt:Date></tt:LocalDateTime>
</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"""

FAULT_ACTION_NOT_SUPPORTED = """<env:Fault><env:Code><env:Value>env:Receiver</env:Value>
<env:Subcode><env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code>
<env:Reason><env:Text xml:lang="en">Optional Action Not Implemented</env:Text></env:Reason>
</env:Fault>"""

FAULT_NOT_AUTHORIZED = """<env:Fault><env:Code><env:Value>env:Sender</env:Value>
<env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>
<env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason>
</env:Fault>"""

GET_CAPABILITIES = """<tds:GetCapabilitiesResponse><tds:Capabilities>
<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr>
<tt:Network><tt:IPFilter>true</tt:IPFilter><tt:ZeroConfiguration>true</tt:ZeroConfiguration>
<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>true</tt:DynDNS></tt:Network>
<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>
<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>
<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>true</tt:FirmwareUpgrade>
<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions>
</tt:System><tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>
<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>
<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>
<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>
</tt:Device>
<tt:Events><tt:XAddr>{base}/onvif/Events</tt:XAddr><tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport>
<tt:WSPullPointSupport>true</tt:WSPullPointSupport>
<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>
<tt:Media><tt:XAddr>{base}/onvif/Media</tt:XAddr><tt:StreamingCapabilities>
<tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>
</tt:StreamingCapabilities></tt:Media>
<tt:PTZ><tt:XAddr>{base}/onvif/PTZ</tt:XAddr></tt:PTZ>
</tds:Capabilities></tds:GetCapabilitiesResponse>"""

GET_DEVICE_INFORMATION = """<tds:GetDeviceInformationResponse>
<tds:Manufacturer>HIKVISION</tds:Manufacturer><tds:Model>DS-2DE2A404IW-DE3</tds:Model>
<tds:FirmwareVersion>V5.6.12 build 190528</tds:FirmwareVersion>
<tds:SerialNumber>DS-2DE2A404IW-DE320190716AAWRD12345678</tds:SerialNumber>
<tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>"""

PROFILE = """<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>
<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name>
<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>
<tt:Bounds x="0" y="0" width="2560" height="1440"></tt:Bounds></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="{enc}"><tt:Name>{enc}</tt:Name><tt:UseCount>1</tt:UseCount>
<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height>
</tt:Resolution><tt:Quality>3.000000</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit>
<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>
<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>
<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>
<tt:Port>8600</tt:Port><tt:TTL>128</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>
<tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration>
<tt:PTZConfiguration token="PTZToken"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount>
<tt:NodeToken>PTZNODETOKEN</tt:NodeToken>
<tt:DefaultContinuousPanTiltVelocitySpace>http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace</tt:DefaultContinuousPanTiltVelocitySpace>
<tt:DefaultContinuousZoomVelocitySpace>http://www.onvif.org/ver10/tptz/ZoomSpaces/ZoomGenericSpeedSpace</tt:DefaultContinuousZoomVelocitySpace>
<tt:DefaultPTZTimeout>PT300S</tt:DefaultPTZTimeout></tt:PTZConfiguration>
</trt:Profiles>"""

GET_PROFILES = "<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

GET_STREAM_URI = """<trt:GetStreamUriResponse><trt:MediaUri>
<tt:Uri>rtsp://{rtsp}/{path}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>
<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout>
</trt:MediaUri></trt:GetStreamUriResponse>"""

CONTINUOUS_MOVE = "<tptz:ContinuousMoveResponse></tptz:ContinuousMoveResponse>"
STOP = "<tptz:StopResponse></tptz:StopResponse>"
GOTO_PRESET = "<tptz:GotoPresetResponse></tptz:GotoPresetResponse>"
SET_PRESET = (
    "<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken></tptz:SetPresetResponse>"
)
REMOVE_PRESET = "<tptz:RemovePresetResponse></tptz:RemovePresetResponse>"
GET_PRESETS = """<tptz:GetPresetsResponse>
<tptz:Preset token="1"><tt:Name>门口</tt:Name><tt:PTZPosition><tt:PanTilt x="0.1" y="0.2"
space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"/>
<tt:Zoom x="0" space="http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"/>
</tt:PTZPosition></tptz:Preset>
<tptz:Preset token="2"><tt:Name>preset2</tt:Name></tptz:Preset>
</tptz:GetPresetsResponse>"""

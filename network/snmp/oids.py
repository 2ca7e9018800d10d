"""The numeric OIDs the poller reads, with the MIB object each one is. Numeric on purpose: nothing resolves
MIB names at run time (no MIB files are loaded), so the poller costs no MIB lookups and needs no MIB files.

Table columns are given without the index; an instance is ``column + "." + index``.
"""

from __future__ import annotations

# --- SNMPv2-MIB (RFC 3418) ----------------------------------------------------------------------------
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"  # sysUpTime.0, TimeTicks (1/100 s) since the agent (re)started

# --- IF-MIB (RFC 2863): ifTable 1.3.6.1.2.1.2.2, ifEntry .1, INDEX { ifIndex } -------------------------
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"  # ifDescr
IF_TYPE = "1.3.6.1.2.1.2.2.1.3"  # ifType (IANAifType: vdsl2(251), adsl(94), ethernetCsmacd(6), ...)
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"  # ifAdminStatus: up(1), down(2), testing(3)
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"  # ifOperStatus: up(1), down(2), ..., lowerLayerDown(7)
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"  # ifInOctets, Counter32 (only where ifHCInOctets is missing)
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"  # ifInErrors, Counter32
IF_OUT_OCTETS = "1.3.6.1.2.1.2.2.1.16"  # ifOutOctets, Counter32 (only where ifHCOutOctets is missing)
IF_OUT_ERRORS = "1.3.6.1.2.1.2.2.1.20"  # ifOutErrors, Counter32

# --- IF-MIB ifXTable 1.3.6.1.2.1.31.1.1, ifXEntry .1, INDEX { ifIndex } ----------------------------------
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"  # ifName
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"  # ifHCInOctets, Counter64
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"  # ifHCOutOctets, Counter64
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"  # ifHighSpeed, Gauge32, Mbit/s

# --- HOST-RESOURCES-MIB (RFC 2790) --------------------------------------------------------------------
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"  # hrProcessorLoad, percent over the last minute, per CPU
# hrStorageTable 1.3.6.1.2.1.25.2.3, hrStorageEntry .1, INDEX { hrStorageIndex }
HR_STORAGE_TYPE = "1.3.6.1.2.1.25.2.3.1.2"  # hrStorageType (an OID, see HR_STORAGE_RAM)
HR_STORAGE_ALLOCATION_UNITS = "1.3.6.1.2.1.25.2.3.1.4"  # hrStorageAllocationUnits, bytes per unit
HR_STORAGE_SIZE = "1.3.6.1.2.1.25.2.3.1.5"  # hrStorageSize, in allocation units
HR_STORAGE_USED = "1.3.6.1.2.1.25.2.3.1.6"  # hrStorageUsed, in allocation units
HR_STORAGE_RAM = "1.3.6.1.2.1.25.2.1.2"  # hrStorageRam, the hrStorageType value of physical memory

# --- VDSL2-LINE-MIB (RFC 5650), vdsl2MIB = transmission 251 = 1.3.6.1.2.1.10.251 ---------------------
# xdsl2LineTable 1.3.6.1.2.1.10.251.1.1.1, xdsl2LineEntry .1, INDEX { ifIndex }
XDSL2_ATTAINABLE_RATE_DS = "1.3.6.1.2.1.10.251.1.1.1.1.20"  # xdsl2LineStatusAttainableRateDs, bit/s
XDSL2_ATTAINABLE_RATE_US = "1.3.6.1.2.1.10.251.1.1.1.1.21"  # xdsl2LineStatusAttainableRateUs, bit/s
# xdsl2LineBandTable 1.3.6.1.2.1.10.251.1.1.2, xdsl2LineBandEntry .1, INDEX { ifIndex, xdsl2LineBand }
# Xdsl2Band: upstream(1) and downstream(2) are the whole direction (VDSL2 also has us0(3), ds1(4), ...).
XDSL2_BAND_LN_ATTEN = "1.3.6.1.2.1.10.251.1.1.2.1.2"  # xdsl2LineBandStatusLnAtten, 0.1 dB
XDSL2_BAND_SIG_ATTEN = "1.3.6.1.2.1.10.251.1.1.2.1.3"  # xdsl2LineBandStatusSigAtten, 0.1 dB
XDSL2_BAND_SNR_MARGIN = "1.3.6.1.2.1.10.251.1.1.2.1.4"  # xdsl2LineBandStatusSnrMargin, 0.1 dB (Integer32)
XDSL2_BAND_UPSTREAM = 1
XDSL2_BAND_DOWNSTREAM = 2
# xdsl2ChannelStatusTable 1.3.6.1.2.1.10.251.1.2.2, xdsl2ChannelStatusEntry .1,
# INDEX { ifIndex, xdsl2ChStatusUnit }; Xdsl2Unit: xtuc(1) central office, xtur(2) remote end.
XDSL2_CH_ACT_DATA_RATE = "1.3.6.1.2.1.10.251.1.2.2.1.2"  # xdsl2ChStatusActDataRate, bit/s
# The xtuc row carries the rate the central office end sends (downstream): on real DSLAMs it sits just
# below xdsl2LineStatusAttainableRateDs, and the xtur row just below ...AttainableRateUs.
XDSL2_UNIT_XTUC = 1
XDSL2_UNIT_XTUR = 2
# Special values of the 0.1 dB objects (and Integer32/Unsigned32 measurements generally).
XDSL2_OUT_OF_RANGE = 2147483647  # 0x7FFFFFFF: out of range to be represented
XDSL2_UNAVAILABLE = 2147483646  # 0x7FFFFFFE: measurement currently unavailable

# --- ADSL-LINE-MIB (RFC 2662), adslMIB = transmission 94; adslMibObjects = 1.3.6.1.2.1.10.94.1.1 ----------
# adslAtucPhysTable .2 and adslAturPhysTable .3 (entries .1, INDEX { ifIndex }). Each row is what that
# modem receives: ATU-C (central office) = upstream, ATU-R (remote) = downstream.
ADSL_ATUC_CURR_SNR_MGN = "1.3.6.1.2.1.10.94.1.1.2.1.4"  # adslAtucCurrSnrMgn, 0.1 dB: upstream margin
ADSL_ATUC_CURR_ATN = "1.3.6.1.2.1.10.94.1.1.2.1.5"  # adslAtucCurrAtn, 0.1 dB: upstream attenuation
# adsl*CurrAttainableRate is the most that modem could send: the ATU-C's downstream, the ATU-R's upstream.
ADSL_ATUC_CURR_ATTAINABLE_RATE = "1.3.6.1.2.1.10.94.1.1.2.1.8"  # adslAtucCurrAttainableRate, bit/s
ADSL_ATUR_CURR_SNR_MGN = "1.3.6.1.2.1.10.94.1.1.3.1.4"  # adslAturCurrSnrMgn, 0.1 dB: downstream margin
ADSL_ATUR_CURR_ATN = "1.3.6.1.2.1.10.94.1.1.3.1.5"  # adslAturCurrAtn, 0.1 dB: downstream attenuation
ADSL_ATUR_CURR_ATTAINABLE_RATE = "1.3.6.1.2.1.10.94.1.1.3.1.8"  # adslAturCurrAttainableRate, bit/s
# adslAtucChanTable .4 and adslAturChanTable .5: CurrTxRate is what that end transmits, so the ATU-C's
# is the downstream rate and the ATU-R's the upstream rate (indexed by the channel's ifIndex, which
# many DSLAMs make the line's own).
ADSL_ATUC_CHAN_CURR_TX_RATE = "1.3.6.1.2.1.10.94.1.1.4.1.2"  # adslAtucChanCurrTxRate, bit/s: downstream
ADSL_ATUR_CHAN_CURR_TX_RATE = "1.3.6.1.2.1.10.94.1.1.5.1.2"  # adslAturChanCurrTxRate, bit/s: upstream

# --- what a poll reads, grouped by the request that carries them ----------------------------------------
# Interface columns walked together in one GETBULK stream (same index set: ifIndex).
IF_TABLE_COLUMNS: tuple[str, ...] = (
    IF_ADMIN_STATUS,
    IF_OPER_STATUS,
    IF_IN_ERRORS,
    IF_OUT_ERRORS,
)
IF_X_TABLE_COLUMNS: tuple[str, ...] = (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, IF_HIGH_SPEED)
# Read once per poll as well: cheap, and a renamed port shows at once.
IF_NAME_COLUMNS: tuple[str, ...] = (IF_NAME, IF_DESCR)
IF_COUNTER32_COLUMNS: tuple[str, ...] = (IF_IN_OCTETS, IF_OUT_OCTETS)
HOST_COLUMNS: tuple[str, ...] = (HR_PROCESSOR_LOAD,)
HR_STORAGE_COLUMNS: tuple[str, ...] = (HR_STORAGE_TYPE, HR_STORAGE_ALLOCATION_UNITS, HR_STORAGE_SIZE, HR_STORAGE_USED)
VDSL2_LINE_COLUMNS: tuple[str, ...] = (XDSL2_ATTAINABLE_RATE_DS, XDSL2_ATTAINABLE_RATE_US)
VDSL2_BAND_COLUMNS: tuple[str, ...] = (XDSL2_BAND_LN_ATTEN, XDSL2_BAND_SNR_MARGIN)
VDSL2_CHANNEL_COLUMNS: tuple[str, ...] = (XDSL2_CH_ACT_DATA_RATE,)
ADSL_COLUMNS: tuple[str, ...] = (
    ADSL_ATUC_CURR_SNR_MGN,
    ADSL_ATUC_CURR_ATN,
    ADSL_ATUC_CURR_ATTAINABLE_RATE,
    ADSL_ATUR_CURR_SNR_MGN,
    ADSL_ATUR_CURR_ATN,
    ADSL_ATUR_CURR_ATTAINABLE_RATE,
    ADSL_ATUC_CHAN_CURR_TX_RATE,
    ADSL_ATUR_CHAN_CURR_TX_RATE,
)

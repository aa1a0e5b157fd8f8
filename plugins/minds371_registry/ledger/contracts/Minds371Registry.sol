// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Minds371Registry
/// @notice Anchors signed deployment records: per service name, the hash, content id (CID) and
/// sequence number of the latest record. The record itself lives in a content store under its CID;
/// this contract makes its order and its publisher tamper-evident.
/// @dev The first publisher of a name owns it. Only the owner may publish the next sequence, which
/// must be exactly one more than the last and name the hash of the record it follows, so an old
/// record cannot be replayed over a newer one and the history of a name cannot fork. Each head
/// remembers the block of its publish, and each event the block of the publish before it, so a
/// reader finds a name's latest records with one log query per record, whatever the chain's length.
contract Minds371Registry {
    struct Head {
        address owner;
        uint64 sequence;
        bytes32 recordHash;
        string cid;
        uint64 blockNumber;
    }

    mapping(bytes32 => Head) private _heads;

    /// @notice A record was published for `name`.
    event Published(
        bytes32 indexed nameHash,
        string name,
        uint64 sequence,
        bytes32 recordHash,
        string cid,
        address indexed publisher,
        uint64 previousBlock
    );

    /// @notice Ownership of `name` moved from `previousOwner` to `newOwner`.
    event OwnershipTransferred(
        bytes32 indexed nameHash, address indexed previousOwner, address indexed newOwner
    );

    /// @notice The caller does not own `name`.
    error NotOwner(string name, address owner, address caller);
    /// @notice `sequence` is not the next one for `name`.
    error BadSequence(string name, uint64 expected, uint64 got);
    /// @notice `prevHash` is not the hash of the latest record of `name`.
    error BadPrevious(string name, bytes32 expected, bytes32 got);
    /// @notice A record must carry a hash and a CID.
    error EmptyRecord(string name);
    /// @notice Ownership cannot move to the zero address.
    error ZeroOwner(string name);

    /// @notice Publish the next record of `name`, which follows the record hashed `prevHash`.
    function publish(
        string calldata name,
        uint64 sequence,
        bytes32 prevHash,
        bytes32 recordHash,
        string calldata cid
    ) external {
        if (recordHash == bytes32(0) || bytes(cid).length == 0) revert EmptyRecord(name);
        bytes32 key = keccak256(bytes(name));
        Head storage current = _heads[key];
        if (current.owner == address(0)) {
            current.owner = msg.sender;
            emit OwnershipTransferred(key, address(0), msg.sender);
        } else if (current.owner != msg.sender) {
            revert NotOwner(name, current.owner, msg.sender);
        }
        if (sequence != current.sequence + 1) {
            revert BadSequence(name, current.sequence + 1, sequence);
        }
        if (prevHash != current.recordHash) revert BadPrevious(name, current.recordHash, prevHash);
        uint64 previousBlock = current.blockNumber;
        current.sequence = sequence;
        current.recordHash = recordHash;
        current.cid = cid;
        current.blockNumber = uint64(block.number);
        emit Published(key, name, sequence, recordHash, cid, msg.sender, previousBlock);
    }

    /// @notice Hand `name` to `newOwner`; only its current owner may.
    function transferOwnership(string calldata name, address newOwner) external {
        if (newOwner == address(0)) revert ZeroOwner(name);
        bytes32 key = keccak256(bytes(name));
        Head storage current = _heads[key];
        if (current.owner != msg.sender) revert NotOwner(name, current.owner, msg.sender);
        current.owner = newOwner;
        emit OwnershipTransferred(key, msg.sender, newOwner);
    }

    /// @notice The latest record of `name` and the block it was published in (zero values when
    /// nothing was published).
    function head(string calldata name)
        external
        view
        returns (
            address owner,
            uint64 sequence,
            bytes32 recordHash,
            string memory cid,
            uint64 blockNumber
        )
    {
        Head storage h = _heads[keccak256(bytes(name))];
        return (h.owner, h.sequence, h.recordHash, h.cid, h.blockNumber);
    }
}

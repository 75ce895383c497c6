// Code generated - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contracts

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = errors.New
	_ = big.NewInt
	_ = strings.NewReader
	_ = ethereum.NotFound
	_ = bind.Bind
	_ = common.Big1
	_ = types.BloomLookup
	_ = event.NewSubscription
	_ = abi.ConvertType
	_ = time.Tick
	_ = context.Background
)

// TestUSDTMetaData contains all meta data concerning the TestUSDT contract.
var TestUSDTMetaData = &bind.MetaData{
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"owner\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"spender\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"Approval\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"Transfer\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"allowance\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"spender\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"approve\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"balanceOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"decimals\",\"outputs\":[{\"internalType\":\"uint8\",\"name\":\"\",\"type\":\"uint8\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"mint\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"name\",\"outputs\":[{\"internalType\":\"string\",\"name\":\"\",\"type\":\"string\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"symbol\",\"outputs\":[{\"internalType\":\"string\",\"name\":\"\",\"type\":\"string\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"totalSupply\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"transfer\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"transferFrom\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	Bin: "0x6080604052348015600e575f5ffd5b505f80546001600160a01b031916331790556106db8061002d5f395ff3fe608060405234801561000f575f5ffd5b50600436106100a6575f3560e01c806340c10f191161006e57806340c10f191461014757806370a082311461015a5780638da5cb5b1461017957806395d89b41146101a3578063a9059cbb146101c6578063dd62ed3e146101d9575f5ffd5b806306fdde03146100aa578063095ea7b3146100ee57806318160ddd1461010357806323b872dd1461011a578063313ce5671461012d575b5f5ffd5b6100d86040518060400160405280600f81526020016e15195cdd0815195d1a195c881554d1608a1b81525081565b6040516100e59190610598565b60405180910390f35b6101016100fc3660046105e8565b610203565b005b61010c60015481565b6040519081526020016100e5565b610101610128366004610610565b6102ec565b610135600681565b60405160ff90911681526020016100e5565b6101016101553660046105e8565b6103a6565b61010c61016836600461064a565b60026020525f908152604090205481565b5f5461018b906001600160a01b031681565b6040516001600160a01b0390911681526020016100e5565b6100d8604051806040016040528060048152602001631554d11560e21b81525081565b6101016101d43660046105e8565b610488565b61010c6101e736600461066a565b600360209081525f928352604080842090915290825290205481565b8015806102305750335f9081526003602090815260408083206001600160a01b0386168452909152902054155b61028d5760405162461bcd60e51b8152602060048201526024808201527f54657374555344543a20726573657420616c6c6f77616e636520746f203020666044820152631a5c9cdd60e21b60648201526084015b60405180910390fd5b335f8181526003602090815260408083206001600160a01b03871680855290835292819020859055518481529192917f8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b92591015b60405180910390a35050565b6001600160a01b0383165f9081526003602090815260408083203384529091529020548181101561035f5760405162461bcd60e51b815260206004820152601b60248201527f54657374555344543a20616c6c6f77616e636520746f6f206c6f7700000000006044820152606401610284565b5f1981146103955761037182826106af565b6001600160a01b0385165f9081526003602090815260408083203384529091529020555b6103a0848484610497565b50505050565b5f546001600160a01b031633146104095760405162461bcd60e51b815260206004820152602160248201527f54657374555344543a2063616c6c6572206973206e6f7420746865206f776e656044820152603960f91b6064820152608401610284565b8060015f82825461041a91906106c8565b90915550506001600160a01b0382165f90815260026020526040812080548392906104469084906106c8565b90915550506040518181526001600160a01b038316905f907fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef906020016102e0565b610493338383610497565b5050565b6001600160a01b0383165f90815260026020526040902054818110156104ff5760405162461bcd60e51b815260206004820152601960248201527f54657374555344543a2062616c616e636520746f6f206c6f77000000000000006044820152606401610284565b61050982826106af565b6001600160a01b038086165f90815260026020526040808220939093559085168152908120805484929061053e9084906106c8565b92505081905550826001600160a01b0316846001600160a01b03167fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef8460405161058a91815260200190565b60405180910390a350505050565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b80356001600160a01b03811681146105e3575f5ffd5b919050565b5f5f604083850312156105f9575f5ffd5b610602836105cd565b946020939093013593505050565b5f5f5f60608486031215610622575f5ffd5b61062b846105cd565b9250610639602085016105cd565b929592945050506040919091013590565b5f6020828403121561065a575f5ffd5b610663826105cd565b9392505050565b5f5f6040838503121561067b575f5ffd5b610684836105cd565b9150610692602084016105cd565b90509250929050565b634e487b7160e01b5f52601160045260245ffd5b818103818111156106c2576106c261069b565b92915050565b808201808211156106c2576106c261069b56",
}

// TestUSDTABI is the input ABI used to generate the binding from.
// Deprecated: Use TestUSDTMetaData.ABI instead.
var TestUSDTABI = TestUSDTMetaData.ABI

// TestUSDTBin is the compiled bytecode used for deploying new contracts.
// Deprecated: Use TestUSDTMetaData.Bin instead.
var TestUSDTBin = TestUSDTMetaData.Bin

// DeployTestUSDT deploys a new Ethereum contract, binding an instance of TestUSDT to it.
func DeployTestUSDT(auth *bind.TransactOpts, backend bind.ContractBackend) (common.Address, *types.Transaction, *TestUSDT, error) {
	parsed, err := TestUSDTMetaData.GetAbi()
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	if parsed == nil {
		return common.Address{}, nil, nil, errors.New("GetABI returned nil")
	}

	address, tx, contract, err := bind.DeployContract(auth, *parsed, common.FromHex(TestUSDTBin), backend)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	return address, tx, &TestUSDT{TestUSDTCaller: TestUSDTCaller{contract: contract}, TestUSDTTransactor: TestUSDTTransactor{contract: contract}, TestUSDTFilterer: TestUSDTFilterer{contract: contract}}, nil
}

// TestUSDT is an auto generated Go binding around an Ethereum contract.
type TestUSDT struct {
	TestUSDTCaller     // Read-only binding to the contract
	TestUSDTTransactor // Write-only binding to the contract
	TestUSDTFilterer   // Log filterer for contract events
}

// TestUSDTCaller is an auto generated read-only Go binding around an Ethereum contract.
type TestUSDTCaller struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// TestUSDTTransactor is an auto generated write-only Go binding around an Ethereum contract.
type TestUSDTTransactor struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// TestUSDTFilterer is an auto generated log filtering Go binding around an Ethereum contract events.
type TestUSDTFilterer struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// TestUSDTSession is an auto generated Go binding around an Ethereum contract,
// with pre-set call and transact options.
type TestUSDTSession struct {
	Contract     *TestUSDT         // Generic contract binding to set the session for
	CallOpts     bind.CallOpts     // Call options to use throughout this session
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// TestUSDTCallerSession is an auto generated read-only Go binding around an Ethereum contract,
// with pre-set call options.
type TestUSDTCallerSession struct {
	Contract *TestUSDTCaller // Generic contract caller binding to set the session for
	CallOpts bind.CallOpts   // Call options to use throughout this session
}

// TestUSDTTransactorSession is an auto generated write-only Go binding around an Ethereum contract,
// with pre-set transact options.
type TestUSDTTransactorSession struct {
	Contract     *TestUSDTTransactor // Generic contract transactor binding to set the session for
	TransactOpts bind.TransactOpts   // Transaction auth options to use throughout this session
}

// TestUSDTRaw is an auto generated low-level Go binding around an Ethereum contract.
type TestUSDTRaw struct {
	Contract *TestUSDT // Generic contract binding to access the raw methods on
}

// TestUSDTCallerRaw is an auto generated low-level read-only Go binding around an Ethereum contract.
type TestUSDTCallerRaw struct {
	Contract *TestUSDTCaller // Generic read-only contract binding to access the raw methods on
}

// TestUSDTTransactorRaw is an auto generated low-level write-only Go binding around an Ethereum contract.
type TestUSDTTransactorRaw struct {
	Contract *TestUSDTTransactor // Generic write-only contract binding to access the raw methods on
}

// NewTestUSDT creates a new instance of TestUSDT, bound to a specific deployed contract.
func NewTestUSDT(address common.Address, backend bind.ContractBackend) (*TestUSDT, error) {
	contract, err := bindTestUSDT(address, backend, backend, backend)
	if err != nil {
		return nil, err
	}
	return &TestUSDT{TestUSDTCaller: TestUSDTCaller{contract: contract}, TestUSDTTransactor: TestUSDTTransactor{contract: contract}, TestUSDTFilterer: TestUSDTFilterer{contract: contract}}, nil
}

// NewTestUSDTCaller creates a new read-only instance of TestUSDT, bound to a specific deployed contract.
func NewTestUSDTCaller(address common.Address, caller bind.ContractCaller) (*TestUSDTCaller, error) {
	contract, err := bindTestUSDT(address, caller, nil, nil)
	if err != nil {
		return nil, err
	}
	return &TestUSDTCaller{contract: contract}, nil
}

// NewTestUSDTTransactor creates a new write-only instance of TestUSDT, bound to a specific deployed contract.
func NewTestUSDTTransactor(address common.Address, transactor bind.ContractTransactor) (*TestUSDTTransactor, error) {
	contract, err := bindTestUSDT(address, nil, transactor, nil)
	if err != nil {
		return nil, err
	}
	return &TestUSDTTransactor{contract: contract}, nil
}

// NewTestUSDTFilterer creates a new log filterer instance of TestUSDT, bound to a specific deployed contract.
func NewTestUSDTFilterer(address common.Address, filterer bind.ContractFilterer) (*TestUSDTFilterer, error) {
	contract, err := bindTestUSDT(address, nil, nil, filterer)
	if err != nil {
		return nil, err
	}
	return &TestUSDTFilterer{contract: contract}, nil
}

// bindTestUSDT binds a generic wrapper to an already deployed contract.
func bindTestUSDT(address common.Address, caller bind.ContractCaller, transactor bind.ContractTransactor, filterer bind.ContractFilterer) (*bind.BoundContract, error) {
	parsed, err := TestUSDTMetaData.GetAbi()
	if err != nil {
		return nil, err
	}
	return bind.NewBoundContract(address, *parsed, caller, transactor, filterer), nil
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_TestUSDT *TestUSDTRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _TestUSDT.Contract.TestUSDTCaller.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_TestUSDT *TestUSDTRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _TestUSDT.Contract.TestUSDTTransactor.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_TestUSDT *TestUSDTRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _TestUSDT.Contract.TestUSDTTransactor.contract.Transact(opts, method, params...)
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_TestUSDT *TestUSDTCallerRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _TestUSDT.Contract.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_TestUSDT *TestUSDTTransactorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _TestUSDT.Contract.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_TestUSDT *TestUSDTTransactorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _TestUSDT.Contract.contract.Transact(opts, method, params...)
}

// Allowance is a free data retrieval call binding the contract method 0xdd62ed3e.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (_TestUSDT *TestUSDTCaller) Allowance(opts *bind.CallOpts, arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "allowance", arg0, arg1)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// Allowance is a free data retrieval call binding the contract method 0xdd62ed3e.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (_TestUSDT *TestUSDTSession) Allowance(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _TestUSDT.Contract.Allowance(&_TestUSDT.CallOpts, arg0, arg1)
}

// Allowance is a free data retrieval call binding the contract method 0xdd62ed3e.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (_TestUSDT *TestUSDTCallerSession) Allowance(arg0 common.Address, arg1 common.Address) (*big.Int, error) {
	return _TestUSDT.Contract.Allowance(&_TestUSDT.CallOpts, arg0, arg1)
}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_TestUSDT *TestUSDTCaller) BalanceOf(opts *bind.CallOpts, arg0 common.Address) (*big.Int, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "balanceOf", arg0)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_TestUSDT *TestUSDTSession) BalanceOf(arg0 common.Address) (*big.Int, error) {
	return _TestUSDT.Contract.BalanceOf(&_TestUSDT.CallOpts, arg0)
}

// BalanceOf is a free data retrieval call binding the contract method 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (_TestUSDT *TestUSDTCallerSession) BalanceOf(arg0 common.Address) (*big.Int, error) {
	return _TestUSDT.Contract.BalanceOf(&_TestUSDT.CallOpts, arg0)
}

// Decimals is a free data retrieval call binding the contract method 0x313ce567.
//
// Solidity: function decimals() view returns(uint8)
func (_TestUSDT *TestUSDTCaller) Decimals(opts *bind.CallOpts) (uint8, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "decimals")

	if err != nil {
		return *new(uint8), err
	}

	out0 := *abi.ConvertType(out[0], new(uint8)).(*uint8)

	return out0, err

}

// Decimals is a free data retrieval call binding the contract method 0x313ce567.
//
// Solidity: function decimals() view returns(uint8)
func (_TestUSDT *TestUSDTSession) Decimals() (uint8, error) {
	return _TestUSDT.Contract.Decimals(&_TestUSDT.CallOpts)
}

// Decimals is a free data retrieval call binding the contract method 0x313ce567.
//
// Solidity: function decimals() view returns(uint8)
func (_TestUSDT *TestUSDTCallerSession) Decimals() (uint8, error) {
	return _TestUSDT.Contract.Decimals(&_TestUSDT.CallOpts)
}

// Name is a free data retrieval call binding the contract method 0x06fdde03.
//
// Solidity: function name() view returns(string)
func (_TestUSDT *TestUSDTCaller) Name(opts *bind.CallOpts) (string, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "name")

	if err != nil {
		return *new(string), err
	}

	out0 := *abi.ConvertType(out[0], new(string)).(*string)

	return out0, err

}

// Name is a free data retrieval call binding the contract method 0x06fdde03.
//
// Solidity: function name() view returns(string)
func (_TestUSDT *TestUSDTSession) Name() (string, error) {
	return _TestUSDT.Contract.Name(&_TestUSDT.CallOpts)
}

// Name is a free data retrieval call binding the contract method 0x06fdde03.
//
// Solidity: function name() view returns(string)
func (_TestUSDT *TestUSDTCallerSession) Name() (string, error) {
	return _TestUSDT.Contract.Name(&_TestUSDT.CallOpts)
}

// Owner is a free data retrieval call binding the contract method 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (_TestUSDT *TestUSDTCaller) Owner(opts *bind.CallOpts) (common.Address, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "owner")

	if err != nil {
		return *new(common.Address), err
	}

	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)

	return out0, err

}

// Owner is a free data retrieval call binding the contract method 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (_TestUSDT *TestUSDTSession) Owner() (common.Address, error) {
	return _TestUSDT.Contract.Owner(&_TestUSDT.CallOpts)
}

// Owner is a free data retrieval call binding the contract method 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (_TestUSDT *TestUSDTCallerSession) Owner() (common.Address, error) {
	return _TestUSDT.Contract.Owner(&_TestUSDT.CallOpts)
}

// Symbol is a free data retrieval call binding the contract method 0x95d89b41.
//
// Solidity: function symbol() view returns(string)
func (_TestUSDT *TestUSDTCaller) Symbol(opts *bind.CallOpts) (string, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "symbol")

	if err != nil {
		return *new(string), err
	}

	out0 := *abi.ConvertType(out[0], new(string)).(*string)

	return out0, err

}

// Symbol is a free data retrieval call binding the contract method 0x95d89b41.
//
// Solidity: function symbol() view returns(string)
func (_TestUSDT *TestUSDTSession) Symbol() (string, error) {
	return _TestUSDT.Contract.Symbol(&_TestUSDT.CallOpts)
}

// Symbol is a free data retrieval call binding the contract method 0x95d89b41.
//
// Solidity: function symbol() view returns(string)
func (_TestUSDT *TestUSDTCallerSession) Symbol() (string, error) {
	return _TestUSDT.Contract.Symbol(&_TestUSDT.CallOpts)
}

// TotalSupply is a free data retrieval call binding the contract method 0x18160ddd.
//
// Solidity: function totalSupply() view returns(uint256)
func (_TestUSDT *TestUSDTCaller) TotalSupply(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _TestUSDT.contract.Call(opts, &out, "totalSupply")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// TotalSupply is a free data retrieval call binding the contract method 0x18160ddd.
//
// Solidity: function totalSupply() view returns(uint256)
func (_TestUSDT *TestUSDTSession) TotalSupply() (*big.Int, error) {
	return _TestUSDT.Contract.TotalSupply(&_TestUSDT.CallOpts)
}

// TotalSupply is a free data retrieval call binding the contract method 0x18160ddd.
//
// Solidity: function totalSupply() view returns(uint256)
func (_TestUSDT *TestUSDTCallerSession) TotalSupply() (*big.Int, error) {
	return _TestUSDT.Contract.TotalSupply(&_TestUSDT.CallOpts)
}

// Approve is a paid mutator transaction binding the contract method 0x095ea7b3.
//
// Solidity: function approve(address spender, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactor) Approve(opts *bind.TransactOpts, spender common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.contract.Transact(opts, "approve", spender, value)
}

// Approve is a paid mutator transaction binding the contract method 0x095ea7b3.
//
// Solidity: function approve(address spender, uint256 value) returns()
func (_TestUSDT *TestUSDTSession) Approve(spender common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Approve(&_TestUSDT.TransactOpts, spender, value)
}

// Approve is a paid mutator transaction binding the contract method 0x095ea7b3.
//
// Solidity: function approve(address spender, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactorSession) Approve(spender common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Approve(&_TestUSDT.TransactOpts, spender, value)
}

// Mint is a paid mutator transaction binding the contract method 0x40c10f19.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (_TestUSDT *TestUSDTTransactor) Mint(opts *bind.TransactOpts, to common.Address, amount *big.Int) (*types.Transaction, error) {
	return _TestUSDT.contract.Transact(opts, "mint", to, amount)
}

// Mint is a paid mutator transaction binding the contract method 0x40c10f19.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (_TestUSDT *TestUSDTSession) Mint(to common.Address, amount *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Mint(&_TestUSDT.TransactOpts, to, amount)
}

// Mint is a paid mutator transaction binding the contract method 0x40c10f19.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (_TestUSDT *TestUSDTTransactorSession) Mint(to common.Address, amount *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Mint(&_TestUSDT.TransactOpts, to, amount)
}

// Transfer is a paid mutator transaction binding the contract method 0xa9059cbb.
//
// Solidity: function transfer(address to, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactor) Transfer(opts *bind.TransactOpts, to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.contract.Transact(opts, "transfer", to, value)
}

// Transfer is a paid mutator transaction binding the contract method 0xa9059cbb.
//
// Solidity: function transfer(address to, uint256 value) returns()
func (_TestUSDT *TestUSDTSession) Transfer(to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Transfer(&_TestUSDT.TransactOpts, to, value)
}

// Transfer is a paid mutator transaction binding the contract method 0xa9059cbb.
//
// Solidity: function transfer(address to, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactorSession) Transfer(to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.Transfer(&_TestUSDT.TransactOpts, to, value)
}

// TransferFrom is a paid mutator transaction binding the contract method 0x23b872dd.
//
// Solidity: function transferFrom(address from, address to, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactor) TransferFrom(opts *bind.TransactOpts, from common.Address, to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.contract.Transact(opts, "transferFrom", from, to, value)
}

// TransferFrom is a paid mutator transaction binding the contract method 0x23b872dd.
//
// Solidity: function transferFrom(address from, address to, uint256 value) returns()
func (_TestUSDT *TestUSDTSession) TransferFrom(from common.Address, to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.TransferFrom(&_TestUSDT.TransactOpts, from, to, value)
}

// TransferFrom is a paid mutator transaction binding the contract method 0x23b872dd.
//
// Solidity: function transferFrom(address from, address to, uint256 value) returns()
func (_TestUSDT *TestUSDTTransactorSession) TransferFrom(from common.Address, to common.Address, value *big.Int) (*types.Transaction, error) {
	return _TestUSDT.Contract.TransferFrom(&_TestUSDT.TransactOpts, from, to, value)
}

// TestUSDTApprovalIterator is returned from FilterApproval and is used to iterate over the raw logs and unpacked data for Approval events raised by the TestUSDT contract.
type TestUSDTApprovalIterator struct {
	Event *TestUSDTApproval // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *TestUSDTApprovalIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(TestUSDTApproval)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(TestUSDTApproval)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *TestUSDTApprovalIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *TestUSDTApprovalIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// TestUSDTApproval represents a Approval event raised by the TestUSDT contract.
type TestUSDTApproval struct {
	Owner   common.Address
	Spender common.Address
	Value   *big.Int
	Raw     types.Log // Blockchain specific contextual infos
}

// FilterApproval is a free log retrieval operation binding the contract event 0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925.
//
// Solidity: event Approval(address indexed owner, address indexed spender, uint256 value)
func (_TestUSDT *TestUSDTFilterer) FilterApproval(opts *bind.FilterOpts, owner []common.Address, spender []common.Address) (*TestUSDTApprovalIterator, error) {

	var ownerRule []interface{}
	for _, ownerItem := range owner {
		ownerRule = append(ownerRule, ownerItem)
	}
	var spenderRule []interface{}
	for _, spenderItem := range spender {
		spenderRule = append(spenderRule, spenderItem)
	}

	logs, sub, err := _TestUSDT.contract.FilterLogs(opts, "Approval", ownerRule, spenderRule)
	if err != nil {
		return nil, err
	}
	return &TestUSDTApprovalIterator{contract: _TestUSDT.contract, event: "Approval", logs: logs, sub: sub}, nil
}

// WatchApproval is a free log subscription operation binding the contract event 0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925.
//
// Solidity: event Approval(address indexed owner, address indexed spender, uint256 value)
func (_TestUSDT *TestUSDTFilterer) WatchApproval(opts *bind.WatchOpts, sink chan<- *TestUSDTApproval, owner []common.Address, spender []common.Address) (event.Subscription, error) {

	var ownerRule []interface{}
	for _, ownerItem := range owner {
		ownerRule = append(ownerRule, ownerItem)
	}
	var spenderRule []interface{}
	for _, spenderItem := range spender {
		spenderRule = append(spenderRule, spenderItem)
	}

	logs, sub, err := _TestUSDT.contract.WatchLogs(opts, "Approval", ownerRule, spenderRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(TestUSDTApproval)
				if err := _TestUSDT.contract.UnpackLog(event, "Approval", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseApproval is a log parse operation binding the contract event 0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925.
//
// Solidity: event Approval(address indexed owner, address indexed spender, uint256 value)
func (_TestUSDT *TestUSDTFilterer) ParseApproval(log types.Log) (*TestUSDTApproval, error) {
	event := new(TestUSDTApproval)
	if err := _TestUSDT.contract.UnpackLog(event, "Approval", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// TestUSDTTransferIterator is returned from FilterTransfer and is used to iterate over the raw logs and unpacked data for Transfer events raised by the TestUSDT contract.
type TestUSDTTransferIterator struct {
	Event *TestUSDTTransfer // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *TestUSDTTransferIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(TestUSDTTransfer)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(TestUSDTTransfer)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *TestUSDTTransferIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *TestUSDTTransferIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// TestUSDTTransfer represents a Transfer event raised by the TestUSDT contract.
type TestUSDTTransfer struct {
	From  common.Address
	To    common.Address
	Value *big.Int
	Raw   types.Log // Blockchain specific contextual infos
}

// FilterTransfer is a free log retrieval operation binding the contract event 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef.
//
// Solidity: event Transfer(address indexed from, address indexed to, uint256 value)
func (_TestUSDT *TestUSDTFilterer) FilterTransfer(opts *bind.FilterOpts, from []common.Address, to []common.Address) (*TestUSDTTransferIterator, error) {

	var fromRule []interface{}
	for _, fromItem := range from {
		fromRule = append(fromRule, fromItem)
	}
	var toRule []interface{}
	for _, toItem := range to {
		toRule = append(toRule, toItem)
	}

	logs, sub, err := _TestUSDT.contract.FilterLogs(opts, "Transfer", fromRule, toRule)
	if err != nil {
		return nil, err
	}
	return &TestUSDTTransferIterator{contract: _TestUSDT.contract, event: "Transfer", logs: logs, sub: sub}, nil
}

// WatchTransfer is a free log subscription operation binding the contract event 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef.
//
// Solidity: event Transfer(address indexed from, address indexed to, uint256 value)
func (_TestUSDT *TestUSDTFilterer) WatchTransfer(opts *bind.WatchOpts, sink chan<- *TestUSDTTransfer, from []common.Address, to []common.Address) (event.Subscription, error) {

	var fromRule []interface{}
	for _, fromItem := range from {
		fromRule = append(fromRule, fromItem)
	}
	var toRule []interface{}
	for _, toItem := range to {
		toRule = append(toRule, toItem)
	}

	logs, sub, err := _TestUSDT.contract.WatchLogs(opts, "Transfer", fromRule, toRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(TestUSDTTransfer)
				if err := _TestUSDT.contract.UnpackLog(event, "Transfer", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseTransfer is a log parse operation binding the contract event 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef.
//
// Solidity: event Transfer(address indexed from, address indexed to, uint256 value)
func (_TestUSDT *TestUSDTFilterer) ParseTransfer(log types.Log) (*TestUSDTTransfer, error) {
	event := new(TestUSDTTransfer)
	if err := _TestUSDT.contract.UnpackLog(event, "Transfer", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}
